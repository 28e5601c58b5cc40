// The end of the log as subscriptions wait on it: appends advance it, live subscriptions sleep
// until it moves past what they have read (or until they are told to stop).
#ifndef ESDB_DEVNODE_LOG_TAIL_H_
#define ESDB_DEVNODE_LOG_TAIL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace esdb::devnode {

class LogTail {
 public:
  explicit LogTail(uint64_t last_position) : last_(last_position) {}

  // Records that everything up to `position` is committed and readable. Positions may be
  // reported out of order by concurrent appenders; the tail only moves forwards.
  void Advance(uint64_t position) {
    absl::MutexLock lock(&mu_);
    if (position > last_) {
      last_ = position;
      changed_.SignalAll();
    }
  }

  // Wakes every waiter so that it re-reads its stop flag. Call after setting the flag.
  void WakeAll() {
    absl::MutexLock lock(&mu_);
    changed_.SignalAll();
  }

  // Blocks until the tail is past `position` or `stop` is set (then returns false).
  bool WaitBeyond(uint64_t position, const std::atomic<bool>& stop) {
    absl::MutexLock lock(&mu_);
    while (last_ <= position && !stop.load()) changed_.Wait(&mu_);
    return !stop.load();
  }

 private:
  absl::Mutex mu_;
  absl::CondVar changed_;
  uint64_t last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_TAIL_H_
