// Decides which connectors run on this host and keeps a runner going for each: starts runners for
// active connectors, stops them when disabled or deleted, restarts them when reconfigured or
// reset, and records RUNNING / FAILED / STOPPED in the connector's stream.
//
// Threads: one supervisor thread decides, records lifecycle events, and asks runners to start and
// stop; it never waits for a runner (a start opens the sink on the runner's task, a stop is
// requested and later reaped). Runners report to it through a queue. The host's heartbeat has a
// thread of its own (HeartbeatThread), so neither slow starts nor stops can cost the lease.
#ifndef ESDB_ACTIVATION_SUPERVISOR_H_
#define ESDB_ACTIVATION_SUPERVISOR_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "activation/assignment.h"
#include "activation/host_leases.h"
#include "connector/registry.h"
#include "delivery/backoff.h"
#include "delivery/metrics.h"
#include "delivery/pools.h"
#include "delivery/runner.h"
#include "node/node_client.h"
#include "secrets/key_ring.h"
#include "sinks/destination_policy.h"
#include "sinks/plugin.h"

namespace esdb {

// A connector whose last this many starts never reached RUNNING is marked FAILED, not started
// (and not restarted automatically: the host itself went down each time).
inline constexpr int kMaxStartAttempts = 3;
// The first automatic restart of a FAILED connector (restart:policy=onFailure) comes after about
// this long; each further one waits twice as long, up to restart:maxDelayMs, jittered.
inline constexpr int64_t kFirstRestartDelayMs = 1000;

struct SupervisorOptions {
  std::string host_id;
  std::string member_id;  // the node member this host is attached to (its role decides)
  absl::Duration lease = absl::Seconds(10);  // a host silent for longer is taken for dead
  const NodeClient* node = nullptr;
  Registry* registry = nullptr;
  const PluginSet* plugins = nullptr;
  // Required, like the pointers above; they must outlive the supervisor.
  const secrets::KeyRing* keys = nullptr;  // opens sealed settings before a sink sees them
  const DestinationPolicy* destinations = nullptr;  // checked again before each start
  uint32_t scan_checkpoint_interval = 0;
  // The threads the runners run on; must outlive the supervisor. nullptr: pools of its own.
  DeliveryPools* pools = nullptr;
  // How long a runner may take to stop (its sink call in progress) before it is given up,
  // without a final checkpoint.
  absl::Duration stop_timeout = absl::Seconds(10);
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);
  ~Supervisor();  // Stop()

  void Start();
  // Asks every runner to stop at once and waits for them (final checkpoints), at most
  // stop_timeout; a runner whose sink call hangs longer is given up. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Asks for a reconciliation soon (e.g. after a registry change). Thread-safe, never blocks.
  void Poke() ABSL_LOCKS_EXCLUDED(mu_);

  // Metrics of every connector that ran here since start-up. Thread-safe.
  std::map<std::string, std::shared_ptr<ConnectorMetrics>> Metrics() const ABSL_LOCKS_EXCLUDED(mu_);
  // The metrics of `id` while a runner for it is active on this host, else null.
  std::shared_ptr<const ConnectorMetrics> RunningMetrics(const std::string& id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // True when a runner for `id` is active on this host.
  bool IsRunningHere(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& host_id() const { return options_.host_id; }

 private:
  struct Active {
    std::unique_ptr<Runner> runner;
    int64_t generation;
    int64_t settings_revision;
    int64_t epoch;
    int64_t restart_revision;  // Connector::restart_revision when it started
    uint64_t serial = 0;      // tells this runner's reports from those of an earlier one
    bool delivering = false;  // the runner reported kRunning
    bool stopping = false;    // asked to stop; reaped once it has ended
    absl::Time stop_deadline = absl::InfiniteFuture();
  };
  struct RunnerReport {
    std::string id;
    uint64_t serial;
    RunnerEvent event;
  };
  void Loop();
  // Rebuilds the view of live hosts and their roles.
  void RefreshHosts();
  void Reconcile();
  void HandleRunnerEvent(const RunnerReport& report);
  // Records the failure, with the next automatic restart when the policy wants one.
  void RecordFailure(const std::string& id, const std::string& error, bool permanent);
  // Restarts the FAILED connectors this host owns whose restart time has come; returns when the
  // next one is due.
  absl::Time RestartDue(const std::map<std::string, Connector>& wanted,
                        const std::function<bool(const std::string&)>& mine);
  void StartRunner(const Connector& c);
  // Asks the runner to stop; ReapStopped() removes it once it has ended (or has been given up).
  void StopRunner(const std::string& id);
  void ReapStopped();
  // The earliest stop deadline of a stopping runner.
  absl::Time NextStopDeadline() const;
  // Executes a lifecycle command; true when it was recorded (or needed no event). Conflicts are
  // resolved by the next reconciliation.
  bool Record(const std::string& id, const Command& command);
  std::shared_ptr<ConnectorMetrics> MetricsFor(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

  SupervisorOptions options_;
  std::unique_ptr<DeliveryPools> own_pools_;  // when options_.pools is null
  DeliveryPools* pools_;
  HostLeases leases_;
  HeartbeatThread heartbeat_;
  std::thread thread_;
  // Supervisor thread only.
  std::map<std::string, Active> active_;
  uint64_t next_serial_ = 0;
  std::vector<HostView> hosts_;
  std::map<std::string, absl::Time> fenced_until_;  // no restart before then
  absl::Time next_restart_ = absl::InfiniteFuture();  // of a FAILED connector owned here
  std::unique_ptr<MembershipWatch> membership_watch_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool poked_ ABSL_GUARDED_BY(mu_) = true;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<RunnerReport> events_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<ConnectorMetrics>> metrics_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, bool> running_here_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb

#endif  // ESDB_ACTIVATION_SUPERVISOR_H_
