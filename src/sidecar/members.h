// Cluster membership as the side-car reports it through get_members: the members gossip lists,
// with the member this side-car stands for named by its own, stable member id.
#ifndef ESDB_SIDECAR_MEMBERS_H_
#define ESDB_SIDECAR_MEMBERS_H_

#include <optional>
#include <string>
#include <vector>

#include "esdb/node.h"
#include "gossip.pb.h"
#include "sidecar/connection_string.h"

namespace esdb::sidecar {

struct MemberView {
  std::string id;
  int32_t role = ESDB_ROLE_OTHER;
  bool alive = false;
  std::string http_endpoint;  // "host:port"

  bool operator==(const MemberView&) const = default;
};

// ESDB_ROLE_* for a gossip state: leader, follower and read-only replica map to their roles,
// every other state (catching up, shutting down, ...) to ESDB_ROLE_OTHER.
int32_t RoleOf(event_store::client::gossip::MemberInfo::VNodeState state);

// The gossip member that is the node at `connected`: the one whose endpoint is `connected`, else
// the only member when there is one. nullopt when neither holds.
std::optional<int> FindSelf(const event_store::client::gossip::ClusterInfo& info,
                            const Endpoint& connected);

// The member id a side-car stands for by default: the connected node's instance id as gossip
// reports it, else `connected` as "host:port".
std::string DefaultMemberId(const event_store::client::gossip::ClusterInfo& info,
                            const Endpoint& connected);

// Every gossip member, each named by its instance id (or "host:port" when it has none), except
// the connected node, which is named `self_id` (so the side-car's id survives a node restart
// that changes the instance id). When gossip does not list the connected node, it is added as
// an alive member of unknown role (ESDB_ROLE_OTHER), so self is always present.
std::vector<MemberView> MembersFromGossip(const event_store::client::gossip::ClusterInfo& info,
                                          const Endpoint& connected, const std::string& self_id);

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_MEMBERS_H_
