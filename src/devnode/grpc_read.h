// Streams.Read: one-shot reads of a stream or of $all, and subscriptions to either.
//
// Threading: the call is a callback-API reactor, so an idle subscriber holds no gRPC thread. A
// subscription's callbacks run on the log node's shared threads; they queue messages for the
// reactor and never block: when the client reads too slowly the queue fills and the call pauses
// its subscription (LogNode::Subscription::Pause) until the client has taken half, so a slow
// client slows its own subscription only and holds no shared thread.
// One-shot reads fetch a batch at a time on gRPC's threads, as the client takes them.
#ifndef ESDB_DEVNODE_GRPC_READ_H_
#define ESDB_DEVNODE_GRPC_READ_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "devnode/grpc_access.h"
#include "devnode/grpc_status.h"
#include "devnode/log_node.h"
#include "esdb/node.h"
#include "grpcpp/grpcpp.h"
#include "protocol/uuid.h"
#include "streams.pb.h"

namespace esdb::devnode {

// A Read request, validated. The pieces below are what the Read reactor does, kept apart from it
// so that they can be driven without a server too (tests/fuzz).
struct ReadPlan {
  bool all = false;
  std::string stream;
  ReadDirection direction = ReadDirection::kForwards;
  bool subscription = false;
  uint64_t count = 0;
  uint64_t from = 0;          // one-shot: first revision / position to read (inclusive)
  bool from_nothing = false;  // one-shot: the start point lies past the end (nothing to read)
  LogNode::StreamFrom stream_from = LogNode::StreamFrom::kStart;
  int32_t all_from = ESDB_FROM_START;
  protocol::UuidForm uuid_form = protocol::UuidForm::kString;
  bool compatibility = false;
  // Filter ($all only). The strings back the pointers of `filter_options`.
  bool filtered = false;
  std::string regex;
  std::vector<std::string> prefixes;
  std::vector<const char*> prefix_pointers;
  esdb_subscribe_options filter_options{};
};

// InvalidArgument, saying what is wrong, for a request the server refuses.
absl::StatusOr<ReadPlan> PlanRead(const event_store::client::streams::ReadReq& request);

// The subscribe options of a $all plan's filter. They point into `plan`, which must stay alive
// and unchanged while they are used.
esdb_subscribe_options ReadFilterOptions(ReadPlan& plan);

// Starts the subscription that `plan` (a subscription) asks for, with `callbacks`, as
// LogNode::SubscribeAll / SubscribeStream do. `plan` must outlive the subscription.
absl::StatusOr<std::unique_ptr<LogNode::Subscription>> SubscribeForRead(
    LogNode* node, ReadPlan* plan, const esdb_subscription_callbacks& callbacks);

// A one-shot read (not a subscription), a batch of messages at a time. Not thread-safe.
class OneShotRead {
 public:
  // `node` must outlive this object.
  OneShotRead(LogNode* node, ReadPlan plan);

  // Passes the next messages to `emit` (at least one unless the read is over). Returns how the
  // call ends once the read is over; nullopt: call again when the messages have been sent.
  std::optional<GrpcError> Refill(
      const std::function<void(event_store::client::streams::ReadResp)>& emit);

 private:
  using Emit = std::function<void(event_store::client::streams::ReadResp)>;
  absl::Status RefillStream(const Emit& emit);
  absl::Status RefillAll(const Emit& emit);
  void AddLastStreamPosition(const Emit& emit);

  LogNode* const node_;
  ReadPlan plan_;
  uint64_t next_;
  uint64_t remaining_;
  bool exhausted_;
};

// Serves one Read call; the reactor deletes itself when the call is done. `node` must outlive
// the gRPC server. `access` decides whether the caller may read the stream (or $all) the request
// names; a refusal ends the call before anything is read.
grpc::ServerWriteReactor<event_store::client::streams::ReadResp>* StartRead(
    LogNode* node, grpc::CallbackServerContext* context,
    const event_store::client::streams::ReadReq* request, StreamAccess access = {});

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_READ_H_
