// Which host runs a connector: a pure function of the connector, its affinity and the hosts
// everyone can see, so every host computes the same answer from the same view.
//
// Eligibility by affinity, falling back when a tier has no live host:
//   leader          -> the leader's hosts only (no fallback: leader work waits for a leader)
//   follower        -> followers, else the leader
//   readOnlyReplica -> read-only replicas, else followers, else the leader
// Among the live hosts of the first non-empty tier, rendezvous hashing picks one: each host gets
// a score hash(host, connector) and the highest wins. A host joining or leaving moves only the
// connectors whose winner changes (about 1/n of them).
#ifndef ESDB_ACTIVATION_ASSIGNMENT_H_
#define ESDB_ACTIVATION_ASSIGNMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/settings.h"

namespace esdb {

struct HostView {
  std::string host_id;
  int32_t role;  // ESDB_ROLE_* of the member the host is attached to
  bool live;
};

// The host that should run `connector_id`, or nullopt when no live host is eligible.
std::optional<std::string> AssignHost(const std::string& connector_id, Affinity affinity,
                                      const std::vector<HostView>& hosts);

// Stable across processes, versions and platforms (unlike std::hash).
uint64_t RendezvousScore(const std::string& host_id, const std::string& connector_id);

const char* AffinityName(Affinity affinity);

}  // namespace esdb

#endif  // ESDB_ACTIVATION_ASSIGNMENT_H_
