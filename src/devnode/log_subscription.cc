#include "devnode/log_subscription.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "devnode/c_abi.h"
#include "devnode/node_status.h"
#include "devnode/reader_pool.h"
#include "devnode/worker_pool.h"
#include "spdlog/spdlog.h"

namespace esdb::devnode {
namespace {

// Queued items one job handles before it lets other subscriptions' jobs have the worker.
constexpr int kItemsPerTurn = 16;

// Events of a subscription's first read from the store; later reads double up to read_batch.
constexpr size_t kFirstRead = 32;

}  // namespace

LogSubscription::LogSubscription(ReaderPool* readers, LogTail* tail, WorkerPool* pool,
                                 SubscriptionConfig config)
    : readers_(readers), tail_(tail), pool_(pool), config_(std::move(config)) {
  scan_.cursor = config_.start_after;
  scan_.next_checkpoint = config_.start_after + config_.checkpoint_interval;
  scan_.noticed = config_.start_after;
  read_size_ = std::min(kFirstRead, config_.read_batch);
}

LogSubscription::~LogSubscription() { Stop(); }

void LogSubscription::Start() {
  absl::MutexLock lock(&mu_);
  reading_ = true;
  Schedule();
}

bool LogSubscription::HasWork() const {
  if (finished_) return false;
  if (drop_due_) return true;
  // Once ending, only on_dropped is left to call (Stop() and Drop() are on their way).
  return !Ending() && !paused_ && (reading_ || tail_ready_ || !items_.empty());
}

void LogSubscription::Schedule() {
  if (scheduled_ || !HasWork()) return;
  std::shared_ptr<LogSubscription> self = weak_from_this().lock();
  if (self == nullptr) return;  // being destroyed
  scheduled_ = true;
  pool_->Post([self = std::move(self)] { self->Drain(); });
}

void LogSubscription::Enqueue(std::vector<SubscriptionItem>& items) {
  absl::MutexLock lock(&mu_);
  if (finished_ || end_ != End::kNone) {
    items.clear();
    return;
  }
  for (SubscriptionItem& item : items) {
    pending_.fetch_add(item.events.size(), std::memory_order_relaxed);
    // Events behind events not yet delivered join them: a subscription that lags gets fewer,
    // larger on_events calls (up to read_batch events), so its cost per event falls as it lags.
    if (item.kind == SubscriptionItem::Kind::kEvents && !items_.empty() &&
        items_.back().kind == SubscriptionItem::Kind::kEvents &&
        items_.back().events.size() + item.events.size() <= config_.read_batch &&
        items_.back().bytes + item.bytes <= kMaxCallbackBytes) {
      SubscriptionItem& back = items_.back();
      back.events.insert(back.events.end(), item.events.begin(), item.events.end());
      back.bytes += item.bytes;
      for (auto& batch : item.batches) {
        if (back.batches.back() != batch) back.batches.push_back(std::move(batch));
      }
      continue;
    }
    items_.push_back(std::move(item));
  }
  items.clear();
  Schedule();
}

void LogSubscription::Notify() {
  absl::MutexLock lock(&mu_);
  tail_ready_ = true;
  Schedule();
}

void LogSubscription::Pause() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void LogSubscription::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
  Schedule();
}

void LogSubscription::Stop() {
  ending_.store(true);
  tail_->Leave(this);
  absl::MutexLock lock(&mu_);
  if (end_ == End::kNone) end_ = End::kStopped;
  finished_ = true;
  drop_due_ = false;
  items_.clear();
  pending_.store(0);
  // From its own callback it cannot wait for itself; its job holds a reference, so returning
  // is safe, and the job ends when the callback returns.
  while (running_ && runner_ != std::this_thread::get_id()) idle_cv_.Wait(&mu_);
}

void LogSubscription::Drop(esdb_node_status status, std::string message) {
  ending_.store(true);
  tail_->Leave(this);
  absl::MutexLock lock(&mu_);
  if (end_ == End::kNone) {
    end_ = End::kDropped;
    drop_due_ = true;
    drop_status_ = status;
    drop_message_ = std::move(message);
    items_.clear();
    pending_.store(0);
    paused_ = false;
    Schedule();
  }
  while (!(finished_ && !running_) && runner_ != std::this_thread::get_id()) {
    idle_cv_.Wait(&mu_);
  }
}

void LogSubscription::Drain() {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) {
      scheduled_ = false;
      return;
    }
    running_ = true;
    runner_ = std::this_thread::get_id();
  }
  Turn();
  absl::MutexLock lock(&mu_);
  running_ = false;
  runner_ = std::thread::id();
  scheduled_ = false;
  Schedule();
  idle_cv_.SignalAll();
}

void LogSubscription::Turn() {
  for (int i = 0; i < kItemsPerTurn; ++i) {
    std::optional<SubscriptionItem> item;
    bool drop = false;
    esdb_node_status status = ESDB_NODE_OK;
    std::string message;
    bool collect;
    {
      absl::MutexLock lock(&mu_);
      collect = tail_ready_ && !finished_ && !drop_due_ && !paused_;
      tail_ready_ = tail_ready_ && !collect;
    }
    // Everything the tail holds joins the queue before the next item is taken, so that one
    // on_events carries all that came since the last one (up to read_batch). Not under mu_:
    // the tail's lock comes first.
    if (collect) tail_->Collect(this);
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (drop_due_) {
        drop = true;
        drop_due_ = false;
        finished_ = true;
        status = drop_status_;
        message = drop_message_;
      } else if (paused_) {
        return;
      } else if (!items_.empty()) {
        item = std::move(items_.front());
        items_.pop_front();
        pending_.fetch_sub(item->events.size(), std::memory_order_relaxed);
      } else if (!reading_) {
        return;
      }
    }
    if (drop) {
      try {
        if (config_.callbacks.on_dropped != nullptr) {
          config_.callbacks.on_dropped(config_.callbacks.user, status, message.c_str());
        }
      } catch (...) {
        spdlog::error("log node: on_dropped of a subscription threw; ignored");
      }
      return;
    }
    absl::Status result;
    try {
      result = item.has_value() ? Run(*item) : CatchUp();
    } catch (const std::exception& e) {
      result = NodeError(ESDB_NODE_ERROR, absl::StrCat("subscription callback threw: ", e.what()));
    } catch (...) {
      result = NodeError(ESDB_NODE_ERROR, "subscription callback threw a non-standard exception");
    }
    if (!result.ok()) {
      Fail(result);
      return;
    }
    if (!item.has_value()) return;  // one store read per job: others get the worker in between
  }
}

void LogSubscription::Fail(const absl::Status& status) {
  ending_.store(true);
  tail_->Leave(this);
  esdb_node_status code = ToNodeStatus(status);
  std::string message(status.message());
  bool call = false;
  {
    absl::MutexLock lock(&mu_);
    if (end_ == End::kNone) {
      end_ = End::kFailed;
      call = true;
    } else if (drop_due_) {  // Drop() asked first: its reason stands
      code = drop_status_;
      message = drop_message_;
      call = true;
    }
    finished_ = true;
    drop_due_ = false;
    items_.clear();
    pending_.store(0);
  }
  if (!call || config_.callbacks.on_dropped == nullptr) return;
  try {
    config_.callbacks.on_dropped(config_.callbacks.user, code, message.c_str());
  } catch (...) {
    spdlog::error("log node: on_dropped of a subscription threw; ignored");
  }
}

absl::Status LogSubscription::Run(const SubscriptionItem& item) {
  switch (item.kind) {
    case SubscriptionItem::Kind::kEvents:
      Deliver(item.events);
      break;
    case SubscriptionItem::Kind::kCheckpoint:
      Checkpoint(item.position);
      break;
    case SubscriptionItem::Kind::kRejoin: {
      scan_ = item.scan;
      absl::MutexLock lock(&mu_);
      reading_ = true;
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status LogSubscription::CatchUp() {
  const esdb_subscription_callbacks& cb = config_.callbacks;
  ScanState joining = scan_;
  if (!caught_up_) joining.noticed = scan_.cursor;  // the caught-up notice below is one
  if (tail_->Join(this, joining)) {
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
    }
    // Whatever the tail queues from now on runs after this job, so after this notice.
    if (!caught_up_) {
      caught_up_ = true;
      scan_.noticed = scan_.cursor;
      if (cb.on_caught_up != nullptr && !Ending())
        cb.on_caught_up(cb.user, ToCPosition(scan_.cursor));
    }
    return absl::OkStatus();
  }
  if (Ending()) return absl::OkStatus();

  absl::StatusOr<std::vector<RecordedEvent>> batch;
  {
    absl::StatusOr<ReaderPool::Lease> reader = readers_->Borrow();
    if (!reader.ok()) return reader.status();
    batch = (*reader)->ReadAll(ReadDirection::kForwards, scan_.cursor + 1, read_size_,
                               kMaxCallbackBytes);
    // Small first reads: many subscriptions start near the tail (or, like the runners'
    // activity probes, want only the first match), and a read of read_batch events costs each
    // of them that many rows and copies. A longer catch-up doubles its way up to read_batch.
    read_size_ = std::min(read_size_ * 2, config_.read_batch);
  }  // the reader goes back to the pool before any callback runs
  if (!batch.ok()) return batch.status();
  if (batch->empty()) {
    // Join() refused because the tail has published past the cursor, so this cannot happen.
    return NodeError(ESDB_NODE_ERROR, absl::StrCat("the log has no event after position ",
                                                   scan_.cursor, " though it has published one"));
  }
  std::vector<const RecordedEvent*> matched;
  for (const RecordedEvent& event : *batch) {
    if (Matches(event)) matched.push_back(&event);
    if (event.position >= scan_.next_checkpoint) {
      // Everything matching up to the checkpoint goes out before it.
      if (!Deliver(matched)) return absl::OkStatus();
      matched.clear();
      Checkpoint(event.position);
      scan_.noticed = event.position;
      scan_.next_checkpoint = event.position + config_.checkpoint_interval;
    }
  }
  if (!Deliver(matched)) return absl::OkStatus();
  scan_.cursor = batch->back().position;
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

void LogSubscription::Checkpoint(uint64_t position) {
  const esdb_subscription_callbacks& cb = config_.callbacks;
  if (cb.on_checkpoint != nullptr && !Ending()) cb.on_checkpoint(cb.user, ToCPosition(position));
}

bool LogSubscription::Deliver(absl::Span<const RecordedEvent* const> events) {
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
