#include "delivery/pools.h"

#include <algorithm>
#include <thread>

namespace esdb {
namespace {

// How long a sink call may wait for a thread before the pool adds one: a hung or slow call
// (a network sink) delays the others by this much at most, per call that holds a thread.
constexpr absl::Duration kSinkCallWait = absl::Milliseconds(50);

int TaskThreads(int wanted) {
  if (wanted > 0) return wanted;
  return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 2, 8);
}

}  // namespace

DeliveryPools::DeliveryPools(DeliveryPoolsOptions options)
    : tasks_(ExecutorOptions{.min_threads = TaskThreads(options.task_threads),
                             .max_threads = TaskThreads(options.task_threads),
                             .name = "esdb-runners"}),
      // Two threads serve the usual quick calls; more start only while calls wait, one per call
      // that has waited kSinkCallWait, and end again after a while without work. Quick calls
      // (null-sink, file-sink) that queue up under load thus stay on the two threads, which
      // then go from call to call, instead of waking up to 64 threads in turn, one per call.
      sink_calls_(ExecutorOptions{.min_threads = std::min(2, std::max(1, options.sink_threads)),
                                  .max_threads = std::max(1, options.sink_threads),
                                  .idle_timeout = absl::Seconds(30),
                                  .grow_after = kSinkCallWait,
                                  .name = "esdb-sink-calls"}),
      queue_budget_(options.queue_budget) {}

bool DeliveryPools::Shutdown(absl::Duration grace) {
  bool tasks_done = tasks_.Shutdown(grace);
  bool calls_done = sink_calls_.Shutdown(grace);
  return tasks_done && calls_done;
}

}  // namespace esdb
