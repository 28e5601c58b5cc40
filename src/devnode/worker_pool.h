// A small pool of threads shared by the log node's subscriptions (and its timers), so that the
// node's thread count follows the work, not the number of subscriptions.
//
// Jobs start in the order posted, on whichever worker is free. A job may block (a subscriber's
// on_events applying back-pressure); the pool cannot tell a blocked job from a long one, so it
// watches for stalls instead: when jobs wait and no worker has taken one for `stall`, it adds a
// worker, up to max_threads. Workers beyond min_threads leave after `idle_exit` without work.
// So blocked jobs cost a thread each only while they block, up to max_threads - 1 of them cannot
// stop the others, and with max_threads all blocked the rest waits until one returns.
#ifndef ESDB_DEVNODE_WORKER_POOL_H_
#define ESDB_DEVNODE_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace esdb::devnode {

class WorkerPool {
 public:
  struct Options {
    size_t min_threads = 2;   // kept once started; >= 1
    size_t max_threads = 64;  // >= min_threads
    absl::Duration stall = absl::Milliseconds(50);
    absl::Duration idle_exit = absl::Seconds(10);
  };

  // Starts no thread until the first job.
  explicit WorkerPool(Options options);
  // Drops the jobs not started yet (destroying them on this thread) and joins every thread; a
  // running job delays it. Must not run on a pool thread.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe. The job is destroyed on the worker that ran it, outside the pool's lock.
  void Post(std::function<void()> job);
  // Posts `job` once `delay` has passed.
  void PostAfter(absl::Duration delay, std::function<void()> job);

  // Workers running now (the pool's one timer thread not counted).
  size_t threads() const;

 private:
  void Work();
  // The timer thread: moves due timers to the queue, adds workers on a stall, joins leavers.
  void Watch();
  void Spawn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the timer thread if jobs wait, no worker is free and it is not timing a stall yet.
  void WatchForStall() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(std::function<void()> job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;   // workers wait here for jobs
  absl::CondVar watch_cv_;  // the timer thread waits here
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  // When a worker last took a job, or the queue last became non-empty: the stall clock.
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;      // workers waiting for a job
  size_t starting_ ABSL_GUARDED_BY(mu_) = 0;  // workers spawned that have not looked for one yet
  bool timing_stall_ ABSL_GUARDED_BY(mu_) = false;  // the timer thread waits for a stall deadline
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::thread::id, std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> left_ ABSL_GUARDED_BY(mu_);  // idle workers that left, to be joined
  std::thread watcher_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_WORKER_POOL_H_
