#include "devnode/log_subscription.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "devnode/c_abi.h"
#include "devnode/node_status.h"
#include "spdlog/spdlog.h"

namespace esdb::devnode {

LogSubscription::LogSubscription(std::unique_ptr<LogReader> reader, LogTail* tail,
                                 SubscriptionConfig config)
    : reader_(std::move(reader)), tail_(tail), config_(std::move(config)) {}

LogSubscription::~LogSubscription() { Stop(); }

void LogSubscription::Start() {
  absl::MutexLock lock(&join_mu_);
  thread_ = std::thread([this] { Run(); });
}

bool LogSubscription::RequestEnd(End why) {
  absl::MutexLock lock(&end_mu_);
  if (end_ != End::kNone) return false;
  end_ = why;
  return true;
}

void LogSubscription::Stop() {
  RequestEnd(End::kStopped);
  stopping_.store(true);
  tail_->WakeAll();
  Join();
}

void LogSubscription::Drop(esdb_node_status status, std::string message) {
  {
    absl::MutexLock lock(&end_mu_);
    if (end_ == End::kNone) {
      end_ = End::kDropped;
      drop_status_ = status;
      drop_message_ = std::move(message);
    }
  }
  stopping_.store(true);
  tail_->WakeAll();
  Join();
}

void LogSubscription::Join() {
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

void LogSubscription::Run() {
  absl::Status result;
  try {
    result = Follow();
  } catch (const std::exception& e) {
    result = NodeError(ESDB_NODE_ERROR, absl::StrCat("subscription callback threw: ", e.what()));
  } catch (...) {
    result = NodeError(ESDB_NODE_ERROR, "subscription callback threw a non-standard exception");
  }
  if (!result.ok()) RequestEnd(End::kFailed);

  esdb_node_status status = ESDB_NODE_OK;
  std::string message;
  {
    absl::MutexLock lock(&end_mu_);
    if (end_ == End::kDropped) {
      status = drop_status_;
      message = drop_message_;
    } else if (end_ == End::kFailed) {
      status = ToNodeStatus(result);
      message = std::string(result.message());
    }
  }
  if (status == ESDB_NODE_OK || config_.callbacks.on_dropped == nullptr) return;
  try {
    config_.callbacks.on_dropped(config_.callbacks.user, status, message.c_str());
  } catch (...) {
    spdlog::error("log node: on_dropped of a subscription threw; ignored");
  }
}

absl::Status LogSubscription::Follow() {
  const esdb_subscription_callbacks& cb = config_.callbacks;
  uint64_t cursor = config_.start_after;  // position of the last event scanned
  uint64_t scanned = 0;
  uint64_t noticed = cursor;  // position of the last checkpoint/caught-up notice
  bool caught_up = false;
  std::vector<const RecordedEvent*> matched;
  while (!Ending()) {
    absl::StatusOr<std::vector<RecordedEvent>> batch =
        reader_->ReadAll(ReadDirection::kForwards, cursor + 1, config_.read_batch);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) {
      if (!caught_up) {
        caught_up = true;
        if (cb.on_caught_up != nullptr && !Ending()) cb.on_caught_up(cb.user, ToCPosition(cursor));
        noticed = cursor;
        continue;  // re-read: appends may have landed during the callback
      }
      // Live and idle after scanning events since the last notice: say how far the scan got, so
      // the subscriber can commit progress over events it was not sent (its lag stays true on a
      // quiet log instead of waiting for checkpoint_interval more events).
      if (config_.idle_checkpoints && cursor > noticed && cb.on_checkpoint != nullptr && !Ending()) {
        cb.on_checkpoint(cb.user, ToCPosition(cursor));
        noticed = cursor;
        continue;
      }
      tail_->WaitBeyond(cursor, stopping_);
      continue;
    }
    matched.clear();
    for (const RecordedEvent& event : *batch) {
      if (Matches(event)) matched.push_back(&event);
      if (++scanned % config_.checkpoint_interval == 0) {
        // Everything matching up to the checkpoint goes out before it.
        if (!Deliver(matched)) return absl::OkStatus();
        matched.clear();
        if (Ending()) return absl::OkStatus();
        if (cb.on_checkpoint != nullptr) cb.on_checkpoint(cb.user, ToCPosition(event.position));
        noticed = event.position;
      }
    }
    if (!Deliver(matched)) return absl::OkStatus();
    cursor = batch->back().position;
  }
  return absl::OkStatus();
}

bool LogSubscription::Matches(const RecordedEvent& event) const {
  if (config_.stream.has_value() &&
      (event.stream != *config_.stream ||
       static_cast<int64_t>(event.revision) <= config_.after_revision)) {
    return false;
  }
  return config_.filter.Matches(event);
}

bool LogSubscription::Deliver(const std::vector<const RecordedEvent*>& events) {
  if (Ending()) return false;
  if (events.empty()) return true;
  std::vector<esdb_recorded_event> views;
  std::vector<const esdb_recorded_event*> pointers;
  views.reserve(events.size());
  pointers.reserve(events.size());
  for (const RecordedEvent* event : events) views.push_back(ToCEvent(*event));
  for (const esdb_recorded_event& view : views) pointers.push_back(&view);
  config_.callbacks.on_events(config_.callbacks.user, pointers.data(), pointers.size());
  return true;
}

}  // namespace esdb::devnode
