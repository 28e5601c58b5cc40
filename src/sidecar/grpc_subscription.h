// A filtered $all subscription over Streams.Read, delivered through the node ABI's callbacks.
//
// Two threads: a reader takes messages off the gRPC stream into a bounded queue, and a
// dispatcher hands them to the callbacks, consecutive events as one on_events batch. A blocked
// on_events therefore stops the reader once the queue is full, and gRPC flow control then
// holds back the server: back-pressure end to end without loss. Whatever ends the call
// (connection lost, node stopped, an error) is reported with on_dropped after every message
// received before it has been delivered, so the caller can resubscribe from the last position
// it saw without a gap.
//
// esdb_subscribe_options.checkpoint_interval maps to the filter's window and multiplier (the
// server sends a checkpoint every window x multiplier scanned events); 0 asks for
// kDefaultCheckpointInterval.
#ifndef ESDB_SIDECAR_GRPC_SUBSCRIPTION_H_
#define ESDB_SIDECAR_GRPC_SUBSCRIPTION_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "esdb/node.h"
#include "sidecar/call_status.h"
#include "sidecar/node_connection.h"
#include "streams.pb.h"

namespace esdb::sidecar {

inline constexpr uint32_t kDefaultCheckpointInterval = 1000;
// The largest filter window asked for; longer intervals use the multiplier.
inline constexpr uint32_t kMaxFilterWindow = 1000;

// The Read request for `options` (validated: InvalidArgument for a bad `from` or scope).
absl::StatusOr<event_store::client::streams::ReadReq> SubscriptionRequest(
    const esdb_subscribe_options& options);

class GrpcSubscription {
 public:
  // Starts the call and waits until the server confirms it (or sends anything), at most the
  // connection's default deadline. On failure no callback has run or will run.
  static absl::StatusOr<std::unique_ptr<GrpcSubscription>> Start(
      NodeConnection* connection, const esdb_subscribe_options& options,
      const esdb_subscription_callbacks& callbacks, CallOutcome* failure);

  // Cancels the call and joins both threads: when it returns no callback runs. Must not run
  // inside a callback; a blocked on_events must be made to return first.
  ~GrpcSubscription();

 private:
  struct Item {
    enum class Kind { kEvent, kCheckpoint, kCaughtUp, kDropped } kind;
    event_store::client::streams::ReadResp message;  // kEvent
    esdb_position position{};                        // kCheckpoint, kCaughtUp
    esdb_node_status status = ESDB_NODE_OK;          // kDropped
    std::string why;                                 // kDropped
  };

  GrpcSubscription(NodeConnection* connection, const esdb_subscription_callbacks& callbacks)
      : connection_(connection), callbacks_(callbacks) {}

  void ReadLoop(NodeConnection::Target target, event_store::client::streams::ReadReq request);
  void DispatchLoop();
  // Waits for room; false when the subscription is being cancelled.
  bool Push(Item item);
  void Deliver(std::vector<Item>& events);

  NodeConnection* const connection_;
  const esdb_subscription_callbacks callbacks_;
  grpc::ClientContext context_;

  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // the first message arrived
  bool ended_ ABSL_GUARDED_BY(mu_) = false;    // the call finished (reader done)
  CallOutcome end_ ABSL_GUARDED_BY(mu_);       // how, when ended_ before started_

  std::thread reader_;
  std::thread dispatcher_;
};

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_GRPC_SUBSCRIPTION_H_
