// Hosts prove they are alive by appending heartbeats to $connectors-hosts; a host whose
// heartbeats stop for longer than the lease is taken for dead, even if its node is alive (a
// crashed side-car beside a live node).
//
// Liveness is judged by each observer's own clock: a host is live while its heartbeat revision
// keeps advancing within the lease. Only a host seen for the first time is judged by the node's
// timestamp of its last heartbeat. So clock skew between hosts never makes a live host look dead.
#ifndef ESDB_ACTIVATION_HOST_LEASES_H_
#define ESDB_ACTIVATION_HOST_LEASES_H_

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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

// Heartbeat() and Observe() touch separate state, so each may have a thread of its own (the
// heartbeat thread, the supervisor); neither may be called from two threads at once.
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
  bool metadata_set_ = false;         // Heartbeat() only
  std::map<std::string, Seen> seen_;  // Observe() only
};

// Appends this host's heartbeat every lease / 3 on a thread of its own, from Start() to Stop(),
// so that nothing else the host does (starting or stopping connectors, a hung sink, a long
// reconciliation) can make it miss its lease. A failed append is reported through `on_error`
// (on that thread) and tried again at the next beat.
class HeartbeatThread {
 public:
  HeartbeatThread(HostLeases* leases, std::function<void(const absl::Status&)> on_error);
  ~HeartbeatThread();  // Stop()

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  HostLeases* const leases_;
  const std::function<void(const absl::Status&)> on_error_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace esdb

#endif  // ESDB_ACTIVATION_HOST_LEASES_H_
