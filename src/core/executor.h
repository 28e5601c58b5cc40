// A small thread pool with timers, and a task that runs on it one call at a time.
//
// Executor: runs posted tasks, and timed tasks once their time has come. It keeps between
// min_threads and max_threads threads: a task posted while no thread is free starts another one,
// up to the maximum, so a few tasks that block for a long time do not hold up the others; threads
// above the minimum end after idle_timeout without work. With min == max it is a fixed pool.
// With grow_after, a thread is added only for a task that has waited that long: short tasks
// that merely queue up for a moment (many quick sink calls) then keep the few threads there are
// busy, instead of waking dozens of threads in turn, each for one task.
//
// SerialTask: one function driven by wake-ups from any thread, never run twice at once. This is
// how an object with no thread of its own (a connector's runner) reacts to callbacks, completions
// and timers in order.
#ifndef ESDB_CORE_EXECUTOR_H_
#define ESDB_CORE_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace esdb {

struct ExecutorOptions {
  int min_threads = 1;  // at least 1: someone has to wait for the timers
  int max_threads = 1;
  absl::Duration idle_timeout = absl::Seconds(30);  // for threads above the minimum
  // Zero: a thread is added as soon as a task waits with no thread free. Otherwise once the
  // oldest waiting task has waited this long (one more thread, that of a watcher, waits for it).
  absl::Duration grow_after = absl::ZeroDuration();
  // Shown for the pool's threads in top -H, ps and gdb (at most 15 characters are kept).
  std::string name;
};

class Executor {
 public:
  explicit Executor(ExecutorOptions options);
  ~Executor();  // Shutdown(absl::InfiniteDuration())
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `task` on a pool thread. Thread-safe; never blocks on a running task. Tasks posted after
  // Shutdown() are dropped (destroyed unrun).
  void Post(absl::AnyInvocable<void()> task);
  // Runs `task` on a pool thread once `when` has come. Pending timers are dropped at Shutdown().
  void PostAt(absl::Time when, absl::AnyInvocable<void()> task);

  // Stops taking work and waits up to `grace` for the running and queued tasks to finish.
  // Returns false when some task was still running then: its thread is left behind (detached)
  // and finishes on its own; queued tasks that did not start are dropped. Idempotent.
  bool Shutdown(absl::Duration grace);

  // Threads alive now (for tests and metrics).
  int threads() const;
  // Tasks running now.
  int busy() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Must be created with Create(). Thread-safe.
class SerialTask : public std::enable_shared_from_this<SerialTask> {
 public:
  // `fn` runs on `executor`, which must outlive every run (Close() before it shuts down).
  static std::shared_ptr<SerialTask> Create(Executor* executor, std::function<void()> fn);

  // Asks for a run soon. While a run is going on, makes it run once more afterwards. Coalesced:
  // many wake-ups before a run lead to one run.
  void Schedule() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `fn` now, on the calling thread, if no run is going on or on its way; otherwise as
  // Schedule(). For a thread that has just ended work the task waits for (a runner's sink call):
  // the run it would ask for happens without handing it to another thread. Must not be called
  // from `fn` itself.
  void RunHere() ABSL_LOCKS_EXCLUDED(mu_);
  // Asks for a run at `when` (or soon after). Only the earliest pending time is kept, so `fn`
  // must ask again for whatever later time it still needs each time it runs.
  void ScheduleAt(absl::Time when) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for a run in progress and makes every later wake-up a no-op. Must not be called from
  // `fn` itself.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  SerialTask(Executor* executor, std::function<void()> fn)
      : executor_(executor), fn_(std::move(fn)) {}
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs fn_ (running_ set by the caller), then posts again if a Schedule() came meanwhile.
  void RunAndRepost() ABSL_LOCKS_EXCLUDED(mu_);
  void PostLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Executor* const executor_;
  const std::function<void()> fn_;
  absl::Mutex mu_;
  bool queued_ ABSL_GUARDED_BY(mu_) = false;  // a run is posted and has not started
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;  // woken while running
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time timer_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // earliest pending timer
};

}  // namespace esdb

#endif  // ESDB_CORE_EXECUTOR_H_
