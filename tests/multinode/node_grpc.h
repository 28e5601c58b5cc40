// What the multi-node tests ask the dev node over its client gRPC protocol, as any client could:
// the members its gossip reports (to tell each side-car which member it is) and the events of a
// stream the HTTP stream API does not serve (a connector's checkpoint stream has '/' in its name).
#ifndef ESDB_TESTS_MULTINODE_NODE_GRPC_H_
#define ESDB_TESTS_MULTINODE_NODE_GRPC_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace esdb::multinode {

struct GossipMember {
  std::string instance_id;
  std::string role;  // leader, follower, readOnlyReplica or other (any other gossip state)
  bool alive = false;
};

// Gossip.Read on `target` ("host:port"): every member, by its http endpoint ("address:port").
absl::StatusOr<std::map<std::string, GossipMember>> ReadGossip(const std::string& target);

struct StoredEvent {
  uint64_t revision = 0;
  std::string event_type;
  std::string data;
};

// Up to `count` events of `stream`, newest first; empty when the stream does not exist.
absl::StatusOr<std::vector<StoredEvent>> ReadStreamBackwards(const std::string& target,
                                                             const std::string& stream,
                                                             uint64_t count);

}  // namespace esdb::multinode

#endif  // ESDB_TESTS_MULTINODE_NODE_GRPC_H_
