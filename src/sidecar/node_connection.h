// The side-car's connection to one EventStoreDB/KurrentDB node, as a connection string asks:
// which node (the one host given, or one found through gossip by node preference), with what
// credentials (TLS or not, Basic auth) and call options (deadline, requires-leader).
//
// gRPC channels reconnect by themselves with backoff (bounded to a couple of seconds here so a
// restarted node is found again quickly). What this class adds is the choice of node: a call
// that finds the node gone reports it (ReportUnavailable) and, with discovery, the next call
// asks gossip again; a write that lands on a follower moves the connection to the leader named
// in the not-leader trailers (FollowLeader).
//
// Thread-safe.
#ifndef ESDB_SIDECAR_NODE_CONNECTION_H_
#define ESDB_SIDECAR_NODE_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gossip.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "sidecar/connection_string.h"

namespace esdb::sidecar {

class NodeConnection {
 public:
  // Checks the TLS settings (reads tlsCAFile). InvalidArgument when the CA file cannot be read.
  static absl::StatusOr<std::unique_ptr<NodeConnection>> Create(ConnectionSettings settings);

  // A channel and the node it leads to. `generation` changes whenever the node does.
  struct Target {
    std::shared_ptr<grpc::Channel> channel;
    Endpoint endpoint;
    uint64_t generation = 0;
    // ForLongCall: the call's place on `channel`, given back when the last copy goes.
    std::shared_ptr<void> lease;
  };

  // The node to call now. With discovery this may ask gossip first (bounded by gossipTimeout and
  // maxDiscoverAttempts); Unavailable when no suitable node answers.
  absl::StatusOr<Target> Current();

  // As Current(), for a call that stays open as long as it runs (a subscription). Servers limit
  // the calls open at once on one connection (KurrentDB's Kestrel: 100 by default), and a call
  // past the limit waits for another to end, so one connection shared by every subscription
  // would stall the 101st, and every short call behind it. Long calls therefore go on channels
  // (connections) of their own, at most kLongCallsPerChannel on each; short calls keep
  // Current()'s channel to themselves. Keep the target (its lease) while the call runs.
  absl::StatusOr<Target> ForLongCall();
  static constexpr int kLongCallsPerChannel = 50;

  // A call on `generation` found the node unreachable. With discovery the next Current() asks
  // gossip again; a single host keeps its channel (which reconnects on its own).
  void ReportUnavailable(uint64_t generation);
  // A call on `generation` was refused by a follower naming `leader`: use the leader from now on.
  void FollowLeader(const Endpoint& leader, uint64_t generation);

  // Sets the call's metadata (authorization, connection-name, requires-leader) and, when
  // `deadline` is true, the default deadline (defaultDeadline of the connection string).
  void Prepare(grpc::ClientContext* context, bool requires_leader, bool deadline) const;

  // Gossip.Read on `channel`, with the gossip timeout.
  absl::StatusOr<event_store::client::gossip::ClusterInfo> ReadGossip(
      const std::shared_ptr<grpc::Channel>& channel) const;

  const ConnectionSettings& settings() const { return settings_; }
  // Reads should insist on the leader too when the connection string prefers it.
  bool prefers_leader() const { return settings_.node_preference == NodePreference::kLeader; }

 private:
  NodeConnection(ConnectionSettings settings, std::shared_ptr<grpc::ChannelCredentials> creds);

  std::shared_ptr<grpc::Channel> MakeChannel(const Endpoint& endpoint) const;
  // One round of discovery over the seed hosts. Unavailable when none gives a suitable member.
  absl::StatusOr<Endpoint> Discover() const;

  const ConnectionSettings settings_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const std::string authorization_;  // "Basic ..." or empty

  // One connection for long calls, and how many run on it.
  struct LongCallChannel {
    std::shared_ptr<grpc::Channel> channel;
    int calls = 0;
  };

  absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
  Endpoint endpoint_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // For the node of `long_calls_generation_`; made anew when the node changes.
  std::vector<std::shared_ptr<LongCallChannel>> long_call_channels_ ABSL_GUARDED_BY(mu_);
  uint64_t long_calls_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// The member gossip should lead to for `preference`: for kLeader the alive leader, for kFollower
// an alive follower, for kReadOnlyReplica an alive read-only replica, each falling back to any
// alive member that serves clients (leader, follower, read-only replica); kRandom picks among
// those. nullopt when there is none.
std::optional<Endpoint> PickMember(const event_store::client::gossip::ClusterInfo& info,
                                   NodePreference preference);

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_NODE_CONNECTION_H_
