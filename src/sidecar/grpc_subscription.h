// A filtered $all subscription over Streams.Read, delivered through the node ABI's callbacks.
//
// No thread of its own: the call is a gRPC callback-API reactor (ClientReadReactor), so reads
// complete on gRPC's callback threads, which every callback call of the process shares, and the
// callbacks are made from there. Each message read is queued; the thread that queues into an idle
// subscription then delivers the queue, consecutive events as one on_events batch, until it is
// empty, while the next reads complete on other gRPC threads and queue behind it. So the
// callbacks of one subscription run one at a time, in order. One read is outstanding at a time,
// and none is started while `max_queued` messages wait, so a blocked on_events stops its
// subscription's reading and gRPC flow control then holds back the server: back-pressure end to
// end without loss.
//
// A blocked on_events holds the gRPC thread it runs on, though. gRPC 1.51 on Linux runs every
// callback reaction of the process on one fixed set of threads, "nexting_thread" in /proc, and
// max(2, min(cores / 2, 16)) of them. While callbacks block on all of them, no subscription is
// served, none starts (Start gives up after the deadline) and none ends (the destructor waits
// for OnDone) until one returns. The library's callbacks never block.
//
// Whatever ends the call (connection lost, node stopped, an error) is reported with on_dropped
// after every message received before it has been delivered, so the caller can resubscribe from
// the last position it saw without a gap.
//
// esdb_subscribe_options.checkpoint_interval maps to the filter's window and multiplier (the
// server sends a checkpoint every window x multiplier scanned events); 0 asks for
// kDefaultCheckpointInterval.
#ifndef ESDB_SIDECAR_GRPC_SUBSCRIPTION_H_
#define ESDB_SIDECAR_GRPC_SUBSCRIPTION_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "esdb/node.h"
#include "grpcpp/support/client_callback.h"
#include "sidecar/call_status.h"
#include "sidecar/node_connection.h"
#include "streams.grpc.pb.h"
#include "streams.pb.h"

namespace esdb::sidecar {

inline constexpr uint32_t kDefaultCheckpointInterval = 1000;
// The largest filter window asked for; longer intervals use the multiplier.
inline constexpr uint32_t kMaxFilterWindow = 1000;
// Messages a subscription reads ahead of its callbacks before it stops reading (by default),
// and the bytes of their events (messages may be as large as the connection allows, 64 MiB).
inline constexpr size_t kMaxQueued = 4096;
inline constexpr size_t kMaxQueuedBytes = size_t{8} << 20;

// The Read request for `options` (validated: InvalidArgument for a bad `from` or scope).
absl::StatusOr<event_store::client::streams::ReadReq> SubscriptionRequest(
    const esdb_subscribe_options& options);

class GrpcSubscription : private grpc::ClientReadReactor<event_store::client::streams::ReadResp> {
 public:
  // Starts the call and waits until the server confirms it (or sends anything), at most the
  // connection's default deadline. On failure no callback has run or will run. Callbacks may run
  // before Start returns. `connection` must outlive the subscription. At most `max_queued`
  // (>= 1) messages, or messages whose events hold `max_queued_bytes`, wait for the callbacks
  // before reading stops.
  static absl::StatusOr<std::unique_ptr<GrpcSubscription>> Start(
      NodeConnection* connection, const esdb_subscribe_options& options,
      const esdb_subscription_callbacks& callbacks, CallOutcome* failure,
      size_t max_queued = kMaxQueued, size_t max_queued_bytes = kMaxQueuedBytes);

  // Cancels the call and returns once gRPC is done with it (OnDone has returned): then no
  // callback runs or will run. Must not run inside a callback of this subscription; a blocked
  // on_events must be made to return first. OnDone needs a gRPC callback thread (see above).
  ~GrpcSubscription() override;

  // For tests: the bytes waiting for the callbacks (see Item::bytes), and whether a read is
  // outstanding.
  size_t QueuedBytes() ABSL_LOCKS_EXCLUDED(mu_);
  bool Reading() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Item {
    enum class Kind { kEvent, kCheckpoint, kCaughtUp, kDropped } kind;
    event_store::client::streams::ReadResp message;  // kEvent
    esdb_position position{};                        // kCheckpoint, kCaughtUp
    esdb_node_status status = ESDB_NODE_OK;          // kDropped
    std::string why;                                 // kDropped
    size_t bytes = 0;  // kEvent: its stream name, data and metadata, plus a little
  };

  GrpcSubscription(NodeConnection* connection, const esdb_subscription_callbacks& callbacks,
                   NodeConnection::Target target, event_store::client::streams::ReadReq request,
                   size_t max_queued, size_t max_queued_bytes)
      : connection_(connection),
        callbacks_(callbacks),
        max_queued_(max_queued),
        max_queued_bytes_(max_queued_bytes),
        target_(std::move(target)),
        request_(std::move(request)) {}

  // gRPC's reactions. OnDone is the last; after it gRPC no longer touches this object.
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  // Takes response_ into the queue (or drops it: confirmation, fell-behind).
  void Enqueue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks a read outstanding when one may start now; the caller then calls StartRead outside
  // mu_ (only from inside a reaction or before StartCall, so that OnDone cannot have run yet).
  bool ShouldRead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers the queue until it is empty (or the subscription is cancelled), releasing mu_ during
  // the callbacks. Only from inside a reaction, and only when no other thread delivers.
  void Drain() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Deliver(std::vector<Item>& events);

  NodeConnection* const connection_;
  const esdb_subscription_callbacks callbacks_;
  const size_t max_queued_;
  const size_t max_queued_bytes_;
  const NodeConnection::Target target_;
  const event_store::client::streams::ReadReq request_;  // sent from StartCall on
  std::unique_ptr<event_store::client::streams::Streams::Stub> stub_;
  grpc::ClientContext context_;
  // Filled by the outstanding read; touched by no one else until its OnReadDone.
  event_store::client::streams::ReadResp response_;

  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of the items in queue_
  esdb_position last_ ABSL_GUARDED_BY(mu_){};     // for a caught-up message that names no position
  bool reading_ ABSL_GUARDED_BY(mu_) = false;     // a read is outstanding
  bool read_ended_ ABSL_GUARDED_BY(mu_) = false;  // a read failed: the stream is over
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;  // a thread is in Drain
  bool started_ ABSL_GUARDED_BY(mu_) = false;     // the first message arrived in time
  bool given_up_ ABSL_GUARDED_BY(mu_) = false;    // Start failed: deliver nothing
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;   // the destructor runs: deliver nothing more
  bool ended_ ABSL_GUARDED_BY(mu_) = false;       // OnDone ran
  CallOutcome end_ ABSL_GUARDED_BY(mu_);          // how, when ended_ before started_
  // Notified as the very last thing OnDone does, so the destructor may free everything then.
  absl::Notification done_;
};

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_GRPC_SUBSCRIPTION_H_
