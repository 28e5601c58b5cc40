#include "devnode/grpc_read.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "devnode/c_abi.h"
#include "devnode/event_id.h"
#include "devnode/grpc_convert.h"
#include "devnode/grpc_metadata_stream.h"
#include "devnode/grpc_status.h"
#include "devnode/log_filter.h"
#include "devnode/node_status.h"
#include "protocol/uuid.h"

namespace esdb::devnode {
namespace {

using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using Options = ReadReq::Options;

// Events fetched per store read of a one-shot read, and bytes (RecordedEvent::ByteSize) after
// which a read ends early: 128 events of up to 1 MiB each would be 128 MiB at once.
constexpr uint64_t kReadBatch = 128;
constexpr size_t kReadBytes = size_t{4} << 20;
// Messages a subscription may queue ahead of the client before it is paused (one on_events call
// may go past it by up to a read batch); it resumes once the client has taken half.
constexpr size_t kMaxQueued = 256;
// Scanned events between checkpoints for each unit of the checkpoint interval multiplier when
// the client sets no window.
constexpr uint32_t kDefaultWindow = 32;

}  // namespace

absl::StatusOr<ReadPlan> PlanRead(const ReadReq& request) {
  if (!request.has_options()) return absl::InvalidArgumentError("read request has no options");
  const Options& o = request.options();
  ReadPlan plan;
  switch (o.uuid_option().content_case()) {
    case Options::UUIDOption::kString:
      plan.uuid_form = protocol::UuidForm::kString;
      break;
    case Options::UUIDOption::kStructured:
      plan.uuid_form = protocol::UuidForm::kStructured;
      break;
    default:
      return absl::InvalidArgumentError("read request has no uuid_option");
  }
  if (o.read_direction() != Options::Forwards && o.read_direction() != Options::Backwards) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown read direction ", static_cast<int>(o.read_direction())));
  }
  const bool backwards = o.read_direction() == Options::Backwards;
  plan.direction = backwards ? ReadDirection::kBackwards : ReadDirection::kForwards;
  switch (o.count_option_case()) {
    case Options::kCount:
      plan.count = o.count();
      break;
    case Options::kSubscription:
      if (backwards) return absl::InvalidArgumentError("a subscription cannot read backwards");
      plan.subscription = true;
      break;
    default:
      return absl::InvalidArgumentError("read request has neither count nor subscription");
  }
  plan.compatibility = o.control_option().compatibility() >= 1;

  switch (o.stream_option_case()) {
    case Options::kStream: {
      const Options::StreamOptions& s = o.stream();
      absl::StatusOr<std::string> name =
          StreamName(s.has_stream_identifier(), s.stream_identifier());
      if (!name.ok()) return name.status();
      plan.stream = *std::move(name);
      if (o.filter_option_case() == Options::kFilter) {
        return absl::InvalidArgumentError("a stream read cannot be filtered");
      }
      switch (s.revision_option_case()) {
        case Options::StreamOptions::kStart:
          plan.from = 0;
          plan.stream_from = LogNode::StreamFrom::kStart;
          break;
        case Options::StreamOptions::kEnd:
          plan.from = ESDB_REVISION_END;
          plan.from_nothing = !backwards;
          plan.stream_from = LogNode::StreamFrom::kEnd;
          break;
        case Options::StreamOptions::kRevision:
          plan.from = s.revision();
          plan.stream_from = LogNode::StreamFrom::kAfterRevision;
          break;
        default:
          return absl::InvalidArgumentError("stream read has no revision option");
      }
      break;
    }
    case Options::kAll: {
      plan.all = true;
      const Options::AllOptions& a = o.all();
      switch (a.all_option_case()) {
        case Options::AllOptions::kStart:
          plan.from = backwards ? 0 : 1;
          plan.from_nothing = backwards;
          plan.all_from = ESDB_FROM_START;
          break;
        case Options::AllOptions::kEnd:
          plan.from = UINT64_MAX;
          plan.from_nothing = !backwards;
          plan.all_from = ESDB_FROM_END;
          break;
        case Options::AllOptions::kPosition: {
          // A position names the point before an event: forwards includes the event there,
          // backwards starts with the one before; a subscription starts after it.
          const uint64_t p = a.position().commit_position();
          plan.from = backwards ? (p == 0 ? 0 : p - 1) : p;
          plan.from_nothing = backwards && p <= 1;
          plan.all_from = ESDB_FROM_POSITION;
          plan.filter_options.position = esdb_position{p, p};
          break;
        }
        default:
          return absl::InvalidArgumentError("$all read has no position option");
      }
      if (o.filter_option_case() == Options::kFilter) {
        const Options::FilterOptions& f = o.filter();
        const Options::FilterOptions::Expression* expression = nullptr;
        switch (f.filter_case()) {
          case Options::FilterOptions::kStreamIdentifier:
            plan.filter_options.filter_scope = ESDB_FILTER_STREAM;
            expression = &f.stream_identifier();
            break;
          case Options::FilterOptions::kEventType:
            plan.filter_options.filter_scope = ESDB_FILTER_EVENT_TYPE;
            expression = &f.event_type();
            break;
          default:
            return absl::InvalidArgumentError("filter has neither a stream nor an event type");
        }
        plan.filtered = true;
        plan.regex = expression->regex();
        plan.prefixes.assign(expression->prefix().begin(), expression->prefix().end());
        const uint64_t window = f.window_case() == Options::FilterOptions::kMax && f.max() > 0
                                    ? f.max()
                                    : kDefaultWindow;
        const uint64_t interval = window * std::max<uint32_t>(f.checkpointintervalmultiplier(), 1);
        plan.filter_options.checkpoint_interval =
            static_cast<uint32_t>(std::min<uint64_t>(interval, UINT32_MAX));
      }
      break;
    }
    default:
      return absl::InvalidArgumentError("read request names neither a stream nor $all");
  }
  return plan;
}

namespace {

google::protobuf::Timestamp Now() {
  const absl::Time now = absl::Now();
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(now));
  out.set_nanos(static_cast<int32_t>(absl::ToUnixNanos(now) % 1000000000));
  return out;
}

class ReadCall final : public grpc::ServerWriteReactor<ReadResp> {
 public:
  ReadCall(LogNode* node, grpc::CallbackServerContext* context, const ReadReq& request,
           const StreamAccess& access)
      : node_(node), context_(context) {
    absl::StatusOr<ReadPlan> plan = PlanRead(request);
    absl::Status allowed;
    if (plan.ok()) {
      allowed = CheckAccess(access, auth::StreamOperation::kRead,
                            plan->all ? std::string(auth::kAllStream) : plan->stream);
    }
    if (!plan.ok()) {
      End(InvalidArgument(std::string(plan.status().message())));
    } else if (!allowed.ok()) {
      End(AccessError(allowed));
    } else {
      plan_ = *std::move(plan);
      if (plan_.subscription) {
        Subscribe();
      } else {
        one_shot_.emplace(node_, plan_);
        Refill();
      }
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) cancelled_ = true;
      cancelled = cancelled_;
      if (paused_ && !cancelled && queue_.size() <= kMaxQueued / 2) {
        paused_ = false;
        subscription_->Resume();
      }
    }
    if (cancelled) {
      // The write failed, or OnCancel ran while it was in flight and left finishing to this
      // callback (a write may still complete with ok == true after a cancellation). Without
      // this Finish the call never ends, and the server's Shutdown waits for it for ever.
      FinishOnce(grpc::Status::CANCELLED);
      return;
    }
    if (!plan_.subscription) {
      bool empty;
      {
        absl::MutexLock lock(&mu_);
        empty = queue_.empty();
      }
      if (empty) Refill();
    }
    Pump();
  }

  void OnCancel() override {
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      idle = !writing_;
    }
    // A write in flight completes with ok == false and finishes the call then.
    if (idle) FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    std::unique_ptr<LogNode::Subscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      subscription = std::move(subscription_);
    }
    // Waits for a running callback of the subscription (not under mu_, which it may need).
    subscription.reset();
    delete this;
  }

 private:
  // ---- the subscription's side (runs on the log node's shared threads) ----

  static void OnEvents(void* user, const esdb_recorded_event* const* events, size_t count) {
    auto* self = static_cast<ReadCall*>(user);
    std::vector<ReadResp> messages(count);
    for (size_t i = 0; i < count; ++i) {
      ToReadEvent(FromCEvent(*events[i]), self->plan_.uuid_form, messages[i].mutable_event());
    }
    self->EnqueueFromSubscription(std::move(messages));
  }

  static void OnCheckpoint(void* user, esdb_position position) {
    auto* self = static_cast<ReadCall*>(user);
    ReadResp resp;
    resp.mutable_checkpoint()->set_commit_position(position.commit);
    resp.mutable_checkpoint()->set_prepare_position(position.prepare);
    *resp.mutable_checkpoint()->mutable_timestamp() = Now();
    std::vector<ReadResp> messages;
    messages.push_back(std::move(resp));
    self->EnqueueFromSubscription(std::move(messages));
  }

  static void OnCaughtUp(void* user, esdb_position position) {
    auto* self = static_cast<ReadCall*>(user);
    ReadResp resp;
    ReadResp::CaughtUp* caught_up = resp.mutable_caught_up();
    *caught_up->mutable_timestamp() = Now();
    if (self->plan_.all) {
      caught_up->mutable_position()->set_commit_position(position.commit);
      caught_up->mutable_position()->set_prepare_position(position.prepare);
    }
    std::vector<ReadResp> messages;
    messages.push_back(std::move(resp));
    self->EnqueueFromSubscription(std::move(messages));
  }

  static void OnDropped(void* user, esdb_node_status status, const char* message) {
    auto* self = static_cast<ReadCall*>(user);
    self->End(FromNodeStatus(NodeError(status, message), self->plan_.stream, 0));
    self->Pump();
  }

  void Subscribe() {
    ReadResp confirmation;
    confirmation.mutable_confirmation()->set_subscription_id(NewEventId());
    Enqueue(std::move(confirmation));
    esdb_subscription_callbacks callbacks{};
    callbacks.struct_size = sizeof(callbacks);
    callbacks.user = this;
    callbacks.on_events = &OnEvents;
    callbacks.on_checkpoint = plan_.filtered ? &OnCheckpoint : nullptr;
    callbacks.on_caught_up = &OnCaughtUp;
    callbacks.on_dropped = &OnDropped;
    absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
        SubscribeForRead(node_, &plan_, callbacks);
    if (!sub.ok()) {
      End(FromNodeStatus(sub.status(), plan_.stream, 0));
      return;
    }
    absl::MutexLock lock(&mu_);
    subscription_ = *std::move(sub);
  }

  // Queues the next messages of a one-shot read, or its end.
  void Refill() {
    if (!one_shot_.has_value()) return;  // a refused request: its end is already set
    std::optional<GrpcError> end =
        one_shot_->Refill([this](ReadResp resp) { Enqueue(std::move(resp)); });
    if (end.has_value()) End(*std::move(end));
  }

  // ---- the queue and the writer ----

  void Enqueue(ReadResp resp) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(resp));
  }

  // Queues messages from a subscription callback without blocking (the node's threads are
  // shared with other subscriptions); a full queue pauses the subscription until the client
  // has taken half of it (OnWriteDone).
  void EnqueueFromSubscription(std::vector<ReadResp> messages) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_ || finished_) return;
      for (ReadResp& resp : messages) queue_.push_back(std::move(resp));
      if (queue_.size() >= kMaxQueued && !paused_) {
        // Callbacks may start before SubscribeForRead() returns the handle: wait for it (or for
        // room), which takes no longer than that call.
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return subscription_ != nullptr || queue_.size() < kMaxQueued || cancelled_ || finished_;
        };
        mu_.Await(absl::Condition(&ready));
        if (subscription_ != nullptr && queue_.size() >= kMaxQueued && !cancelled_ && !finished_) {
          paused_ = true;
          subscription_->Pause();
        }
      }
    }
    Pump();
  }

  // Records how the call ends once the queue is drained; the first end wins.
  void End(GrpcError error) {
    absl::MutexLock lock(&mu_);
    if (!end_.has_value()) end_ = std::move(error);
  }

  // Starts the next write, or finishes the call when the queue is drained and its end is known.
  // Callable from any thread; at most one write is in flight. A message with more queued behind
  // it is written with gRPC's buffer hint: it may wait in gRPC's buffer for the next one, which
  // is certain to be written (this class is the queue's only reader), so a burst goes out in a
  // few network writes rather than one per event, and the last message of a burst, written
  // without the hint, flushes it at once.
  void Pump() {
    std::optional<GrpcError> finish;
    grpc::WriteOptions options;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_ || cancelled_) return;
      if (!queue_.empty()) {
        in_flight_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        if (!queue_.empty() && started_) options.set_buffer_hint();
        started_ = true;
      } else if (end_.has_value()) {
        finished_ = true;
        finish = end_;
      } else {
        return;
      }
    }
    if (finish.has_value()) {
      finish->AddTrailersTo(context_);
      Finish(finish->status);
      return;
    }
    StartWrite(&in_flight_, options);
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  LogNode* const node_;
  grpc::CallbackServerContext* const context_;
  ReadPlan plan_;
  // Set for a one-shot read; touched only by the constructor and OnWriteDone, which never
  // overlap.
  std::optional<OneShotRead> one_shot_;

  absl::Mutex mu_;
  // Set once SubscribeForRead() returns; taken out in OnDone.
  std::unique_ptr<LogNode::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  bool paused_ ABSL_GUARDED_BY(mu_) = false;  // the subscription is paused by a full queue
  std::deque<ReadResp> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // the first write (with the headers) is made
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<GrpcError> end_ ABSL_GUARDED_BY(mu_);
  ReadResp in_flight_;  // owned by the write in flight
};

}  // namespace

esdb_subscribe_options ReadFilterOptions(ReadPlan& plan) {
  esdb_subscribe_options options = plan.filter_options;
  options.struct_size = sizeof(options);
  plan.prefix_pointers.clear();
  for (const std::string& p : plan.prefixes) plan.prefix_pointers.push_back(p.c_str());
  options.filter_regex = plan.regex.empty() ? nullptr : plan.regex.c_str();
  options.filter_prefixes = plan.prefix_pointers.data();
  options.filter_prefix_count = plan.prefix_pointers.size();
  return options;
}

absl::StatusOr<std::unique_ptr<LogNode::Subscription>> SubscribeForRead(
    LogNode* node, ReadPlan* plan, const esdb_subscription_callbacks& callbacks) {
  if (plan->all) {
    esdb_subscribe_options options = ReadFilterOptions(*plan);
    options.from = plan->all_from;
    return node->SubscribeAll(options, callbacks);
  }
  return node->SubscribeStream(plan->stream, plan->stream_from, plan->from, callbacks);
}

OneShotRead::OneShotRead(LogNode* node, ReadPlan plan)
    : node_(node),
      plan_(std::move(plan)),
      next_(plan_.from),
      remaining_(plan_.count),
      exhausted_(plan_.from_nothing) {}

std::optional<GrpcError> OneShotRead::Refill(const std::function<void(ReadResp)>& emit) {
  if (exhausted_) return GrpcError{grpc::Status::OK, {}};
  absl::Status st = plan_.all ? RefillAll(emit) : RefillStream(emit);
  if (!st.ok()) {
    exhausted_ = true;
    if (ToNodeStatus(st) == ESDB_NODE_STREAM_NOT_FOUND && !plan_.all) {
      ReadResp resp;
      resp.mutable_stream_not_found()->mutable_stream_identifier()->set_stream_name(plan_.stream);
      emit(std::move(resp));
      return GrpcError{grpc::Status::OK, {}};
    }
    return FromNodeStatus(st, plan_.stream, 0);
  }
  if (exhausted_) {
    if (plan_.compatibility && !plan_.all) AddLastStreamPosition(emit);
    return GrpcError{grpc::Status::OK, {}};
  }
  return std::nullopt;
}

absl::Status OneShotRead::RefillStream(const std::function<void(ReadResp)>& emit) {
  const uint64_t want = std::min(remaining_, kReadBatch);
  uint64_t got = 0;
  uint64_t last = 0;
  auto on_event = [&](const RecordedEvent& event) {
    ReadResp resp;
    ToReadEvent(event, plan_.uuid_form, resp.mutable_event());
    emit(std::move(resp));
    last = event.revision;
    ++got;
    return true;
  };
  // "$$X" is X's metadata (grpc_metadata_stream.h), kept beside the log.
  absl::Status st =
      IsMetadataStream(plan_.stream)
          ? ReadMetadataStream(*node_, plan_.stream, plan_.direction, next_, want, on_event)
          : node_->ReadStream(plan_.stream, plan_.direction, next_, want, on_event);
  if (!st.ok()) return st;
  remaining_ -= got;
  if (got < want || remaining_ == 0) {
    exhausted_ = true;
  } else if (plan_.direction == ReadDirection::kForwards) {
    next_ = last + 1;
  } else if (last == 0) {
    exhausted_ = true;
  } else {
    next_ = last - 1;
  }
  return absl::OkStatus();
}

absl::Status OneShotRead::RefillAll(const std::function<void(ReadResp)>& emit) {
  std::optional<LogFilter> filter;
  if (plan_.filtered) {
    absl::StatusOr<LogFilter> f = LogFilter::Create(ReadFilterOptions(plan_));
    if (!f.ok()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, f.status().message());
    filter = *std::move(f);
  }
  // Keeps reading until something is queued, so a filter that skips a long stretch does not
  // end the read early.
  while (!exhausted_) {
    const uint64_t want = plan_.filtered ? kReadBatch : std::min(remaining_, kReadBatch);
    absl::StatusOr<std::vector<RecordedEvent>> events =
        node_->ReadAll(plan_.direction, next_, want, kReadBytes);
    if (!events.ok()) return events.status();
    size_t bytes = 0;
    for (const RecordedEvent& event : *events) bytes += event.ByteSize();
    size_t queued = 0;
    for (const RecordedEvent& event : *events) {
      if (remaining_ == 0) break;
      if (filter.has_value() && !filter->Matches(event)) continue;
      ReadResp resp;
      ToReadEvent(event, plan_.uuid_form, resp.mutable_event());
      emit(std::move(resp));
      --remaining_;
      ++queued;
    }
    // Fewer than asked for and not cut short by the bytes: the log has no more.
    if ((events->size() < want && bytes < kReadBytes) || remaining_ == 0) {
      exhausted_ = true;
    } else if (plan_.direction == ReadDirection::kForwards) {
      next_ = events->back().position + 1;
    } else if (events->back().position <= 1) {
      exhausted_ = true;
    } else {
      next_ = events->back().position - 1;
    }
    if (queued > 0) break;
  }
  return absl::OkStatus();
}

void OneShotRead::AddLastStreamPosition(const std::function<void(ReadResp)>& emit) {
  absl::StatusOr<std::vector<RecordedEvent>> last =
      node_->ReadStream(plan_.stream, ReadDirection::kBackwards, ESDB_REVISION_END, 1);
  if (!last.ok() || last->empty()) return;
  ReadResp resp;
  resp.set_last_stream_position(last->front().revision);
  emit(std::move(resp));
}

grpc::ServerWriteReactor<ReadResp>* StartRead(LogNode* node, grpc::CallbackServerContext* context,
                                              const ReadReq* request, StreamAccess access) {
  return new ReadCall(node, context, *request, access);
}

}  // namespace esdb::devnode
