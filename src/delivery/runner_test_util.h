// For runner tests: the settings they share, and a collector of what a runner reports through
// RunnerOptions::on_event that waits for a kind of report.
#ifndef ESDB_DELIVERY_RUNNER_TEST_UTIL_H_
#define ESDB_DELIVERY_RUNNER_TEST_UTIL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "delivery/runner.h"

namespace esdb {

// Settings that make a runner quick to test: from the start of the log, no batch wait, short
// backoff, a checkpoint every 100 records (not on a timer).
inline ConnectorSettings QuickRunnerSettings() {
  ConnectorSettings s;
  s.instance_type = "test";
  s.initial = InitialPosition::kEarliest;
  s.autocommit_records_threshold = 100;
  s.autocommit_interval_ms = 60000;
  s.first_delay_ms = 1;
  s.max_delay_ms = 5;
  s.batch_size = 32;
  s.batch_timeout_ms = 0;
  return s;
}

struct RunnerReports {
  absl::Mutex mu;
  std::vector<RunnerEvent> seen ABSL_GUARDED_BY(mu);

  // For RunnerOptions::on_event; `this` must outlive the runner.
  std::function<void(const RunnerEvent&)> Collector() {
    return [this](const RunnerEvent& e) {
      absl::MutexLock l(&mu);
      seen.push_back(e);
    };
  }
  bool Has(RunnerEvent::Kind kind) {
    absl::MutexLock l(&mu);
    return HasLocked(kind);
  }
  // Waits (20 s at most) for a report of `kind`; `message` gets the last such report's.
  bool WaitFor(RunnerEvent::Kind kind, std::string* message = nullptr) {
    absl::MutexLock l(&mu);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return HasLocked(kind); };
    if (!mu.AwaitWithTimeout(absl::Condition(&has), absl::Seconds(20))) return false;
    for (const RunnerEvent& e : seen) {
      if (e.kind == kind && message != nullptr) *message = e.message;
    }
    return true;
  }

 private:
  bool HasLocked(RunnerEvent::Kind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (const RunnerEvent& e : seen) {
      if (e.kind == kind) return true;
    }
    return false;
  }
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_RUNNER_TEST_UTIL_H_
