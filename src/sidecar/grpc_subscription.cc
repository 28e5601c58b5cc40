#include "sidecar/grpc_subscription.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sidecar/event_view.h"

namespace esdb::sidecar {
namespace {

using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;

// The most events passed to one on_events call.
constexpr size_t kMaxBatch = 512;

}  // namespace

absl::StatusOr<ReadReq> SubscriptionRequest(const esdb_subscribe_options& options) {
  ReadReq req;
  auto* o = req.mutable_options();
  switch (options.from) {
    case ESDB_FROM_START:
      o->mutable_all()->mutable_start();
      break;
    case ESDB_FROM_END:
      o->mutable_all()->mutable_end();
      break;
    case ESDB_FROM_POSITION:
      o->mutable_all()->mutable_position()->set_commit_position(options.position.commit);
      o->mutable_all()->mutable_position()->set_prepare_position(options.position.prepare);
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("bad subscription start ", options.from));
  }
  o->set_read_direction(ReadReq::Options::Forwards);
  o->mutable_subscription();
  o->mutable_uuid_option()->mutable_string();
  if (options.filter_scope == ESDB_FILTER_NONE) {
    o->mutable_no_filter();
    return req;
  }
  ReadReq::Options::FilterOptions::Expression* e;
  if (options.filter_scope == ESDB_FILTER_STREAM) {
    e = o->mutable_filter()->mutable_stream_identifier();
  } else if (options.filter_scope == ESDB_FILTER_EVENT_TYPE) {
    e = o->mutable_filter()->mutable_event_type();
  } else {
    return absl::InvalidArgumentError(absl::StrCat("bad filter scope ", options.filter_scope));
  }
  if (options.filter_regex != nullptr) e->set_regex(options.filter_regex);
  for (size_t i = 0; i < options.filter_prefix_count; ++i) {
    if (options.filter_prefixes[i] != nullptr) e->add_prefix(options.filter_prefixes[i]);
  }
  // interval = window x multiplier, with the window kept within what servers accept.
  const uint32_t interval =
      options.checkpoint_interval == 0 ? kDefaultCheckpointInterval : options.checkpoint_interval;
  const uint32_t multiplier = (interval + kMaxFilterWindow - 1) / kMaxFilterWindow;
  o->mutable_filter()->set_max((interval + multiplier - 1) / multiplier);
  o->mutable_filter()->set_checkpointintervalmultiplier(multiplier);
  return req;
}

absl::StatusOr<std::unique_ptr<GrpcSubscription>> GrpcSubscription::Start(
    NodeConnection* connection, const esdb_subscribe_options& options,
    const esdb_subscription_callbacks& callbacks, CallOutcome* failure, size_t max_queued,
    size_t max_queued_bytes) {
  auto request = SubscriptionRequest(options);
  if (!request.ok()) {
    *failure = CallOutcome{ESDB_NODE_INVALID_ARGUMENT, std::string(request.status().message())};
    return request.status();
  }
  auto target = connection->ForLongCall();
  if (!target.ok()) {
    *failure = CallOutcome{ESDB_NODE_UNAVAILABLE, std::string(target.status().message())};
    return target.status();
  }
  std::unique_ptr<GrpcSubscription> sub(
      new GrpcSubscription(connection, callbacks, *target, *std::move(request),
                           std::max<size_t>(max_queued, 1), max_queued_bytes));
  if (options.from == ESDB_FROM_POSITION) {
    absl::MutexLock lock(&sub->mu_);
    sub->last_ = options.position;  // a caught-up message naming no position, before any event
  }
  connection->Prepare(&sub->context_, connection->prefers_leader(), /*deadline=*/false);
  sub->stub_ = Streams::NewStub(target->channel);
  sub->stub_->async()->Read(&sub->context_, &sub->request_, sub.get());
  {
    absl::MutexLock lock(&sub->mu_);
    sub->reading_ = true;
  }
  sub->StartRead(&sub->response_);
  sub->StartCall();  // from here on, ~GrpcSubscription waits for OnDone

  GrpcSubscription* const s = sub.get();
  absl::MutexLock lock(&s->mu_);
  auto ready = [s]() ABSL_SHARED_LOCKS_REQUIRED(s->mu_) { return s->started_ || s->ended_; };
  const int64_t ms = connection->settings().default_deadline_ms;
  s->mu_.AwaitWithTimeout(absl::Condition(&ready),
                          ms > 0 ? absl::Milliseconds(ms) : absl::InfiniteDuration());
  if (s->started_) return sub;
  // A first message arriving from now on finds given_up_ and is neither queued nor delivered.
  s->given_up_ = true;
  *failure = s->ended_ ? s->end_
                       : CallOutcome{ESDB_NODE_UNAVAILABLE,
                                     absl::StrCat(target->endpoint.ToString(),
                                                  ": the subscription was not confirmed "
                                                  "within the default deadline")};
  if (failure->status == ESDB_NODE_OK) failure->status = ESDB_NODE_UNAVAILABLE;
  return absl::UnavailableError(failure->message);  // ~ cancels and waits for OnDone
}

size_t GrpcSubscription::QueuedBytes() {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

bool GrpcSubscription::Reading() {
  absl::MutexLock lock(&mu_);
  return reading_;
}

GrpcSubscription::~GrpcSubscription() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  context_.TryCancel();
  done_.WaitForNotification();
}

void GrpcSubscription::OnReadDone(bool ok) {
  absl::MutexLock lock(&mu_);
  reading_ = false;
  if (!ok) {
    read_ended_ = true;  // OnDone follows with the call's status
    return;
  }
  if (given_up_ || cancelled_) return;  // read no more: the cancellation ends the call
  started_ = true;
  Enqueue();
  if (ShouldRead()) {
    mu_.Unlock();
    StartRead(&response_);
    mu_.Lock();
  }
  if (!delivering_) Drain();
}

void GrpcSubscription::OnDone(const grpc::Status& status) {
  CallOutcome outcome = ClassifyCall(status, TrailersOf(context_));
  if (outcome.status == ESDB_NODE_OK) {
    outcome = CallOutcome{ESDB_NODE_UNAVAILABLE, "the node ended the subscription", {}};
  }
  outcome.message = absl::StrCat(target_.endpoint.ToString(), ": ", outcome.message);
  bool unsubscribed;
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    end_ = outcome;
    unsubscribed = cancelled_ && !given_up_;
    // No reaction runs any more, so nobody is in Drain: deliver what is left, then the end.
    if (started_ && !cancelled_) {
      Item dropped;
      dropped.kind = Item::Kind::kDropped;
      dropped.status = outcome.status;
      dropped.why = outcome.message;
      queue_.push_back(std::move(dropped));
      Drain();
    }
  }
  if (outcome.status == ESDB_NODE_UNAVAILABLE && !unsubscribed) {
    connection_->ReportUnavailable(target_.generation);
  }
  done_.Notify();  // the last touch: the destructor may free this object from here on
}

void GrpcSubscription::Enqueue() {
  Item item;
  switch (response_.content_case()) {
    case ReadResp::kEvent: {
      const auto& e = response_.event().event();
      last_ = esdb_position{e.commit_position(), e.prepare_position()};
      item.kind = Item::Kind::kEvent;
      // All of the message: a node may put its bytes in the system metadata or a link event.
      item.bytes = response_.ByteSizeLong() + 256;
      item.message = std::move(response_);
      break;
    }
    case ReadResp::kCheckpoint:
      last_ = esdb_position{response_.checkpoint().commit_position(),
                            response_.checkpoint().prepare_position()};
      item.kind = Item::Kind::kCheckpoint;
      item.position = last_;
      break;
    case ReadResp::kCaughtUp:
      item.kind = Item::Kind::kCaughtUp;
      item.position = response_.caught_up().has_position()
                          ? esdb_position{response_.caught_up().position().commit_position(),
                                          response_.caught_up().position().prepare_position()}
                          : last_;
      break;
    default:  // confirmation, fell_behind: nothing to tell
      response_.Clear();
      return;
  }
  response_.Clear();
  queued_bytes_ += item.bytes;
  queue_.push_back(std::move(item));
}

bool GrpcSubscription::ShouldRead() {
  if (reading_ || read_ended_ || ended_ || given_up_ || cancelled_ ||
      queue_.size() >= max_queued_ || queued_bytes_ >= max_queued_bytes_) {
    return false;
  }
  reading_ = true;
  return true;
}

void GrpcSubscription::Deliver(std::vector<Item>& events) {
  if (events.empty()) return;
  // Views point into the messages, which stay put in `events` until the call returns.
  std::vector<EventView> views(events.size());
  std::vector<const esdb_recorded_event*> pointers(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    FillEventView(events[i].message.event().event(), &views[i]);
    pointers[i] = &views[i].view;
  }
  callbacks_.on_events(callbacks_.user, pointers.data(), pointers.size());
  events.clear();
}

void GrpcSubscription::Drain() {
  delivering_ = true;
  std::vector<Item> taken;
  std::vector<Item> events;
  while (!queue_.empty() && !cancelled_) {
    taken.clear();
    // One on_events call carries at most kMaxBatch events, and about max_queued_bytes_ of them.
    size_t taken_bytes = 0;
    while (!queue_.empty() && taken.size() < kMaxBatch &&
           (taken.empty() || taken_bytes + queue_.front().bytes <= max_queued_bytes_)) {
      taken_bytes += queue_.front().bytes;
      queued_bytes_ -= queue_.front().bytes;
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const bool read = ShouldRead();  // reading stopped while the queue was full
    mu_.Unlock();
    if (read) StartRead(&response_);
    for (Item& item : taken) {
      if (item.kind == Item::Kind::kEvent) {
        events.push_back(std::move(item));
        continue;
      }
      Deliver(events);
      switch (item.kind) {
        case Item::Kind::kCheckpoint:
          if (callbacks_.on_checkpoint) callbacks_.on_checkpoint(callbacks_.user, item.position);
          break;
        case Item::Kind::kCaughtUp:
          if (callbacks_.on_caught_up) callbacks_.on_caught_up(callbacks_.user, item.position);
          break;
        case Item::Kind::kDropped:  // the last item there is
          if (callbacks_.on_dropped) {
            callbacks_.on_dropped(callbacks_.user, item.status, item.why.c_str());
          }
          break;
        default:
          break;
      }
    }
    Deliver(events);
    mu_.Lock();
  }
  delivering_ = false;
}

}  // namespace esdb::sidecar
