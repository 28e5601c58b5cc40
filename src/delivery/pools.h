// The threads every runner of a host shares, so that the thread count does not grow with the
// number of connectors: a small fixed executor for the runners' own steps (queue handling,
// checkpoints, node calls; nothing there blocks for long) and a bounded, elastic pool for the
// blocking sink calls (open, write, flush, close), where a hung plugin holds one thread and no
// more. See docs/architecture.md, "Threads".
#ifndef ESDB_DELIVERY_POOLS_H_
#define ESDB_DELIVERY_POOLS_H_

#include "absl/time/time.h"
#include "core/executor.h"
#include "delivery/activity_log.h"

namespace esdb {

struct DeliveryPoolsOptions {
  int task_threads = 0;   // 0: the number of cores, at least 2 and at most 8
  int sink_threads = 64;  // most sink calls running at once
};

class DeliveryPools {
 public:
  explicit DeliveryPools(DeliveryPoolsOptions options = {});

  Executor& tasks() { return tasks_; }
  Executor& sink_calls() { return sink_calls_; }
  // Not a pool, but shared by the same runners: what any of them saw of user activity.
  ActivityLog& activity() { return activity_; }

  // After every runner has ended: waits up to `grace` for sink calls still running (a hung
  // plugin). False when one is still running; its thread is left behind, so the plugin it runs
  // in must never be unloaded.
  bool Shutdown(absl::Duration grace);

 private:
  Executor tasks_;
  Executor sink_calls_;
  ActivityLog activity_;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_POOLS_H_
