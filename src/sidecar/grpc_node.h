// The node operations of esdb/node.h carried out over the client gRPC protocol: appends
// (Streams.Append), stream reads (Streams.Read), stream metadata (the "$$<stream>" metadata
// stream with "$metadata" events, as EventStoreDB stores it), the last $all position and
// membership (Gossip.Read). Subscriptions live in grpc_subscription.h.
//
// Every call carries the connection's default deadline, so a call made while the node is down
// fails with ESDB_NODE_UNAVAILABLE within that time instead of hanging. Writes, and reads when
// the connection prefers the leader, send "requires-leader"; a not-leader answer naming the
// leader moves the connection there and the call is made again (a few hops at most).
//
// Thread-safe.
#ifndef ESDB_SIDECAR_GRPC_NODE_H_
#define ESDB_SIDECAR_GRPC_NODE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "esdb/node.h"
#include "sidecar/call_status.h"
#include "sidecar/members.h"
#include "sidecar/node_connection.h"

namespace esdb::sidecar {

inline constexpr char kMetadataEventType[] = "$metadata";

class GrpcNode {
 public:
  // `connection` must outlive this object. `self_id` is the member id this side-car stands for.
  GrpcNode(NodeConnection* connection, std::string self_id)
      : connection_(connection), self_id_(std::move(self_id)) {}

  // As esdb_node_api.append. `result` may be null.
  CallOutcome Append(const std::string& stream, int64_t expected_revision,
                     const esdb_event_data* const* events, size_t count,
                     esdb_append_result* result) const;

  // As esdb_node_api.read_stream; on_event returns false to stop early (still OK).
  CallOutcome ReadStream(const std::string& stream, int32_t direction, uint64_t from_revision,
                         uint64_t max_count,
                         const std::function<bool(const esdb_recorded_event&)>& on_event) const;

  CallOutcome LastPosition(esdb_position* out) const;
  // "{}" when the stream has no metadata.
  CallOutcome GetStreamMetadata(const std::string& stream, std::string* json) const;
  CallOutcome SetStreamMetadata(const std::string& stream, const std::string& json) const;

  // The members gossip reports (members.h). A node without gossip (UNIMPLEMENTED) is reported
  // as this side-car's member alone, leader.
  CallOutcome GetMembers(std::vector<MemberView>* out) const;

  const std::string& self_id() const { return self_id_; }
  NodeConnection* connection() const { return connection_; }

 private:
  // Makes one call (`call` gets the channel and a prepared context), following not-leader
  // redirects while `may_retry` is true, and reports an unreachable node to the connection.
  CallOutcome Run(bool requires_leader, const bool& may_retry,
                  const std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&,
                                                   grpc::ClientContext*)>& call) const;

  NodeConnection* const connection_;
  const std::string self_id_;
};

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_GRPC_NODE_H_
