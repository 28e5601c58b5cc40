#include "sidecar/grpc_subscription.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sidecar/event_view.h"
#include "streams.grpc.pb.h"

namespace esdb::sidecar {
namespace {

using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;

// Messages queued ahead of the callbacks before the reader waits.
constexpr size_t kMaxQueued = 4096;
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
    const esdb_subscription_callbacks& callbacks, CallOutcome* failure) {
  auto request = SubscriptionRequest(options);
  if (!request.ok()) {
    *failure = CallOutcome{ESDB_NODE_INVALID_ARGUMENT, std::string(request.status().message())};
    return request.status();
  }
  auto target = connection->Current();
  if (!target.ok()) {
    *failure = CallOutcome{ESDB_NODE_UNAVAILABLE, std::string(target.status().message())};
    return target.status();
  }
  std::unique_ptr<GrpcSubscription> sub(new GrpcSubscription(connection, callbacks));
  connection->Prepare(&sub->context_, connection->prefers_leader(), /*deadline=*/false);
  sub->reader_ = std::thread([s = sub.get(), t = *target, req = *std::move(request)]() mutable {
    s->ReadLoop(t, std::move(req));
  });

  bool started = false;
  {
    absl::MutexLock lock(&sub->mu_);
    auto ready = [s = sub.get()]()
                     ABSL_SHARED_LOCKS_REQUIRED(s->mu_) { return s->started_ || s->ended_; };
    const int64_t ms = connection->settings().default_deadline_ms;
    sub->mu_.AwaitWithTimeout(absl::Condition(&ready),
                              ms > 0 ? absl::Milliseconds(ms) : absl::InfiniteDuration());
    started = sub->started_;
    if (!started) {
      *failure = sub->ended_ ? sub->end_
                             : CallOutcome{ESDB_NODE_UNAVAILABLE,
                                           absl::StrCat(target->endpoint.ToString(),
                                                        ": the subscription was not confirmed "
                                                        "within the default deadline")};
      if (failure->status == ESDB_NODE_OK) failure->status = ESDB_NODE_UNAVAILABLE;
    }
  }
  if (!started) return absl::UnavailableError(failure->message);  // ~ cancels and joins
  sub->dispatcher_ = std::thread([s = sub.get()] { s->DispatchLoop(); });
  return sub;
}

GrpcSubscription::~GrpcSubscription() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  context_.TryCancel();
  if (reader_.joinable()) reader_.join();
  if (dispatcher_.joinable()) dispatcher_.join();
}

void GrpcSubscription::ReadLoop(NodeConnection::Target target, ReadReq request) {
  auto stub = Streams::NewStub(target.channel);
  auto reader = stub->Read(&context_, request);
  ReadResp resp;
  esdb_position last{};  // for a caught-up message that names no position
  bool confirmed = false;
  while (reader->Read(&resp)) {
    if (!confirmed) {
      confirmed = true;
      absl::MutexLock lock(&mu_);
      started_ = true;
    }
    Item item;
    switch (resp.content_case()) {
      case ReadResp::kEvent: {
        const auto& e = resp.event().event();
        last = esdb_position{e.commit_position(), e.prepare_position()};
        item.kind = Item::Kind::kEvent;
        item.message = std::move(resp);
        break;
      }
      case ReadResp::kCheckpoint:
        last = esdb_position{resp.checkpoint().commit_position(),
                             resp.checkpoint().prepare_position()};
        item.kind = Item::Kind::kCheckpoint;
        item.position = last;
        break;
      case ReadResp::kCaughtUp:
        item.kind = Item::Kind::kCaughtUp;
        item.position = resp.caught_up().has_position()
                            ? esdb_position{resp.caught_up().position().commit_position(),
                                            resp.caught_up().position().prepare_position()}
                            : last;
        break;
      default:
        continue;  // confirmation, fell_behind: nothing to tell
    }
    if (!Push(std::move(item))) break;
    resp.Clear();
  }
  grpc::Status status = reader->Finish();
  CallOutcome outcome = ClassifyCall(status, TrailersOf(context_));
  if (outcome.status == ESDB_NODE_OK) {
    outcome = CallOutcome{ESDB_NODE_UNAVAILABLE, "the node ended the subscription", {}};
  }
  outcome.message = absl::StrCat(target.endpoint.ToString(), ": ", outcome.message);
  if (outcome.status == ESDB_NODE_UNAVAILABLE) connection_->ReportUnavailable(target.generation);
  bool started;
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    end_ = outcome;
    started = started_;
  }
  if (started) {
    Item dropped;
    dropped.kind = Item::Kind::kDropped;
    dropped.status = outcome.status;
    dropped.why = outcome.message;
    Push(std::move(dropped));
  }
}

bool GrpcSubscription::Push(Item item) {
  absl::MutexLock lock(&mu_);
  auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return cancelled_ || queue_.size() < kMaxQueued;
  };
  mu_.Await(absl::Condition(&room));
  if (cancelled_) return false;
  queue_.push_back(std::move(item));
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

void GrpcSubscription::DispatchLoop() {
  std::vector<Item> taken;
  std::vector<Item> events;
  while (true) {
    taken.clear();
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return cancelled_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (cancelled_) return;
      while (!queue_.empty() && taken.size() < kMaxBatch) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
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
        case Item::Kind::kDropped:
          if (callbacks_.on_dropped) {
            callbacks_.on_dropped(callbacks_.user, item.status, item.why.c_str());
          }
          return;  // the last call
        default:
          break;
      }
    }
    Deliver(events);
  }
}

}  // namespace esdb::sidecar
