// The threads every runner of a host shares, so that the thread count does not grow with the
// number of connectors: a small fixed executor for the runners' own steps (queue handling,
// checkpoints, node calls; nothing there blocks for long) and a bounded, elastic pool for the
// blocking sink calls (open, write, flush, close), where a hung plugin holds one thread and no
// more. See docs/architecture.md, "Threads".
#ifndef ESDB_DELIVERY_POOLS_H_
#define ESDB_DELIVERY_POOLS_H_

#include <atomic>
#include <cstddef>

#include "absl/time/time.h"
#include "core/executor.h"
#include "delivery/activity_log.h"

namespace esdb {

struct DeliveryPoolsOptions {
  int task_threads = 0;   // 0: the number of cores, at least 2 and at most 8
  int sink_threads = 64;  // most sink calls running at once
  // Memory the queues of all runners may hold together (see QueueBudget).
  size_t queue_budget = size_t{256} << 20;
};

// What the runners' queues hold together beyond each one's minimum (RecordBlock::MemoryBytes
// over Runner::kMinQueueBytes), against one budget. Each queue has a bound of its own too, but
// a thousand connectors whose sinks are down each hold theirs; past the budget a runner stops
// reading as soon as its queue holds that minimum, which still lets it make batches, so all of
// them go on, slowly.
class QueueBudget {
 public:
  explicit QueueBudget(size_t bytes) : budget_(bytes) {}
  void Add(size_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }
  void Release(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  bool Exceeded() const { return used_.load(std::memory_order_relaxed) >= budget_; }
  size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const size_t budget_;
  std::atomic<size_t> used_{0};
};

class DeliveryPools {
 public:
  explicit DeliveryPools(DeliveryPoolsOptions options = {});

  Executor& tasks() { return tasks_; }
  Executor& sink_calls() { return sink_calls_; }
  // Not pools, but shared by the same runners: what any of them saw of user activity, and the
  // memory their queues hold.
  ActivityLog& activity() { return activity_; }
  QueueBudget& queue_budget() { return queue_budget_; }

  // After every runner has ended: waits up to `grace` for sink calls still running (a hung
  // plugin). False when one is still running; its thread is left behind, so the plugin it runs
  // in must never be unloaded.
  bool Shutdown(absl::Duration grace);

 private:
  Executor tasks_;
  Executor sink_calls_;
  ActivityLog activity_;
  QueueBudget queue_budget_;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_POOLS_H_
