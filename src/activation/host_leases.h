// Hosts prove they are alive by appending heartbeats to $connectors-hosts; a host whose
// heartbeats stop for longer than the lease is taken for dead, even if its node is alive (a
// crashed side-car beside a live node).
//
// Liveness is judged by each observer's own clock: a host is live while its heartbeat revision
// keeps advancing within the lease. Only a host seen for the first time is judged by the node's
// timestamp of its last heartbeat. So clock skew between hosts never makes a live host look dead.
#ifndef ESDB_ACTIVATION_HOST_LEASES_H_
#define ESDB_ACTIVATION_HOST_LEASES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "node/node_client.h"

namespace esdb {

inline constexpr char kHostsStream[] = "$connectors-hosts";
inline constexpr char kHostHeartbeat[] = "HostHeartbeat";

struct HostLease {
  std::string host_id;
  std::string member_id;  // the node member the host is attached to
  bool live = false;
};

// Not thread-safe: used from the supervisor thread only.
class HostLeases {
 public:
  HostLeases(const NodeClient* node, std::string host_id, std::string member_id,
             absl::Duration lease);

  // Appends this host's heartbeat.
  absl::Status Heartbeat();
  // Every host that heartbeated recently, with its liveness as of `now`.
  absl::StatusOr<std::vector<HostLease>> Observe(absl::Time now);

  absl::Duration lease() const { return lease_; }

 private:
  struct Seen {
    std::string member_id;
    uint64_t revision = 0;    // stream revision of its latest heartbeat
    absl::Time advanced_at;   // when (our clock) that revision was first seen
  };
  const NodeClient* node_;
  std::string host_id_, member_id_;
  absl::Duration lease_;
  bool metadata_set_ = false;
  std::map<std::string, Seen> seen_;
};

}  // namespace esdb

#endif  // ESDB_ACTIVATION_HOST_LEASES_H_
