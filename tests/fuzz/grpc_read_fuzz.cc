// Streams.Read of the dev node (devnode/grpc_read.h) on any bytes decoded as a ReadReq, against
// the fixture node: the request is validated (PlanRead) and then served as the reactor serves it,
// a one-shot read a batch at a time (OneShotRead) or a subscription (SubscribeForRead) followed
// until it catches up. Every event goes through the same conversion as on the wire.
//
// Properties: a refused request is INVALID_ARGUMENT; a read ends with a status a client can
// expect (never INTERNAL or UNKNOWN), sends at most `count` events, in the direction asked, and
// always makes progress; a subscription catches up or is dropped, and sends events in log order.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "devnode/grpc_convert.h"
#include "devnode/c_abi.h"
#include "devnode/grpc_read.h"
#include "fuzz/devnode_fixture.h"
#include "fuzz/fuzz_check.h"

namespace {

using esdb::devnode::GrpcError;
using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;

void CheckEnd(const GrpcError& end) {
  const grpc::StatusCode code = end.status.error_code();
  FUZZ_CHECK(code != grpc::StatusCode::INTERNAL && code != grpc::StatusCode::UNKNOWN,
             "read ended with %d: %s", static_cast<int>(code), end.status.error_message().c_str());
}

// Events arrive in the order asked: revisions for a stream, positions for $all.
class OrderCheck {
 public:
  OrderCheck(bool all, bool backwards) : all_(all), backwards_(backwards) {}
  void Next(const ReadResp& resp) {
    if (!resp.has_event()) return;
    const auto& e = resp.event().event();
    FUZZ_CHECK(!e.stream_identifier().stream_name().empty());
    FUZZ_CHECK(e.metadata().contains("type") && e.metadata().contains("content-type"));
    const uint64_t key = all_ ? e.commit_position() : e.stream_revision();
    if (last_.has_value()) {
      FUZZ_CHECK(backwards_ ? key < *last_ : key > *last_, "events out of order");
    }
    last_ = key;
    ++events_;
  }
  uint64_t events() const { return events_; }

 private:
  const bool all_, backwards_;
  std::optional<uint64_t> last_;
  uint64_t events_ = 0;
};

void ReadOnce(esdb::devnode::LogNode* node, const esdb::devnode::ReadPlan& plan) {
  esdb::devnode::OneShotRead read(node, plan);
  OrderCheck order(plan.all, plan.direction == esdb::devnode::ReadDirection::kBackwards);
  for (int round = 0;; ++round) {
    size_t messages = 0;
    std::optional<GrpcError> end = read.Refill([&](ReadResp resp) {
      ++messages;
      order.Next(resp);
    });
    if (end.has_value()) {
      CheckEnd(*end);
      break;
    }
    FUZZ_CHECK(messages > 0, "a refill that neither ends the read nor sends anything");
    FUZZ_CHECK(round < 100000, "the read does not end");
  }
  FUZZ_CHECK(order.events() <= plan.count, "%llu events for a count of %llu",
             static_cast<unsigned long long>(order.events()),
             static_cast<unsigned long long>(plan.count));
}

// What the reactor's callbacks do, collected until the subscription catches up or drops.
struct Followed {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  esdb::devnode::ReadPlan* plan = nullptr;
  std::optional<OrderCheck> order;  // the subscription thread only
};

void Subscribe(esdb::devnode::LogNode* node, esdb::devnode::ReadPlan* plan) {
  Followed followed;
  followed.plan = plan;
  followed.order.emplace(/*all=*/plan->all, /*backwards=*/false);
  esdb_subscription_callbacks callbacks{};
  callbacks.struct_size = sizeof(callbacks);
  callbacks.user = &followed;
  callbacks.on_events = [](void* user, const esdb_recorded_event* const* events, size_t count) {
    auto* f = static_cast<Followed*>(user);
    for (size_t i = 0; i < count; ++i) {
      ReadResp resp;
      esdb::devnode::ToReadEvent(esdb::devnode::FromCEvent(*events[i]), f->plan->uuid_form,
                                 resp.mutable_event());
      f->order->Next(resp);
    }
  };
  callbacks.on_caught_up = [](void* user, esdb_position) {
    auto* f = static_cast<Followed*>(user);
    absl::MutexLock lock(&f->mu);
    f->done = true;
  };
  callbacks.on_dropped = [](void* user, esdb_node_status, const char*) {
    auto* f = static_cast<Followed*>(user);
    absl::MutexLock lock(&f->mu);
    f->done = true;
  };
  callbacks.on_checkpoint = plan->filtered ? [](void*, esdb_position) {} : nullptr;
  absl::StatusOr<std::unique_ptr<esdb::devnode::LogNode::Subscription>> subscription =
      esdb::devnode::SubscribeForRead(node, plan, callbacks);
  if (!subscription.ok()) {
    CheckEnd(esdb::devnode::FromNodeStatus(subscription.status(), plan->stream, 0));
    return;
  }
  bool done;
  {
    absl::MutexLock lock(&followed.mu);
    done = followed.mu.AwaitWithTimeout(absl::Condition(&followed.done), absl::Seconds(5));
  }
  FUZZ_CHECK(done, "the subscription neither caught up nor dropped within 5 s");
  subscription->reset();  // waits for its own callback, if one is running
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ReadReq request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<esdb::devnode::ReadPlan> plan = esdb::devnode::PlanRead(request);
  if (!plan.ok()) {
    FUZZ_CHECK(plan.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  std::unique_ptr<esdb::devnode::LogNode> node = esdb::fuzz::FixtureNode();
  if (plan->subscription) {
    Subscribe(node.get(), &*plan);
  } else {
    ReadOnce(node.get(), *plan);
  }
  node->Shutdown();
  return 0;
}
