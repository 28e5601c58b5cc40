#include "devnode/worker_pool.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace esdb::devnode {

WorkerPool::WorkerPool(Options options) : options_(options) {}

WorkerPool::~WorkerPool() {
  std::deque<std::function<void()>> queued;
  std::multimap<absl::Time, std::function<void()>> timers;
  std::thread watcher;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_cv_.SignalAll();
    watch_cv_.SignalAll();
    queued.swap(queue_);
    timers.swap(timers_);
    watcher = std::move(watcher_);
  }
  if (watcher.joinable()) watcher.join();
  // Workers no longer leave by themselves once stopping_ is set, so these are all of them.
  absl::flat_hash_map<std::thread::id, std::thread> workers;
  std::vector<std::thread> left;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
    left.swap(left_);
  }
  for (auto& entry : workers) entry.second.join();
  for (std::thread& t : left) t.join();
}

void WorkerPool::Post(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  Enqueue(std::move(job));
}

void WorkerPool::PostAfter(absl::Duration delay, std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  if (!watcher_.joinable()) watcher_ = std::thread([this] { Watch(); });
  timers_.emplace(absl::Now() + delay, std::move(job));
  watch_cv_.Signal();
}

size_t WorkerPool::threads() const {
  absl::MutexLock lock(&mu_);
  return workers_.size();
}

void WorkerPool::Enqueue(std::function<void()> job) {
  if (!watcher_.joinable()) watcher_ = std::thread([this] { Watch(); });
  if (queue_.empty()) last_progress_ = absl::Now();  // a stall is timed from here
  queue_.push_back(std::move(job));
  if (idle_ > 0) work_cv_.Signal();
  if (queue_.size() > idle_ && workers_.size() < std::max<size_t>(options_.min_threads, 1)) {
    Spawn();
  }
  WatchForStall();
}

void WorkerPool::WatchForStall() {
  if (!queue_.empty() && idle_ == 0 && starting_ == 0 && !timing_stall_ &&
      workers_.size() < options_.max_threads) {
    watch_cv_.Signal();
  }
}

void WorkerPool::Spawn() {
  std::thread worker([this] { Work(); });
  // The worker waits for mu_ (held here) before it looks itself up.
  workers_.emplace(worker.get_id(), std::move(worker));
  ++starting_;
}

void WorkerPool::Work() {
  absl::MutexLock lock(&mu_);
  --starting_;
  WatchForStall();  // the watcher does not count a stall while a worker is starting
  while (true) {
    while (queue_.empty() && !stopping_) {
      ++idle_;
      const bool timed_out = work_cv_.WaitWithTimeout(&mu_, options_.idle_exit);
      --idle_;
      if (timed_out && queue_.empty() && !stopping_ &&
          workers_.size() > std::max<size_t>(options_.min_threads, 1)) {
        auto self = workers_.find(std::this_thread::get_id());
        left_.push_back(std::move(self->second));
        workers_.erase(self);
        watch_cv_.Signal();  // to join it
        return;
      }
    }
    if (stopping_) return;
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    last_progress_ = absl::Now();
    WatchForStall();  // this job may block while others still wait
    mu_.Unlock();
    job();
    job = nullptr;  // captures are released outside the lock too
    mu_.Lock();
  }
}

void WorkerPool::Watch() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    timing_stall_ = false;
    const absl::Time now = absl::Now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      Enqueue(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    // A worker still starting will take a job; only when none is free is it a stall.
    const bool stalled = !queue_.empty() && idle_ == 0 && starting_ == 0;
    if (stalled && now - last_progress_ >= options_.stall &&
        workers_.size() < options_.max_threads) {
      Spawn();
      last_progress_ = now;  // give the new worker a stall period before adding another
    }
    if (!left_.empty()) {
      std::vector<std::thread> left;
      left.swap(left_);
      mu_.Unlock();
      for (std::thread& t : left) t.join();  // they hold nothing: their last act was to leave
      mu_.Lock();
      continue;
    }
    absl::Time deadline = timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first;
    if (!queue_.empty() && idle_ == 0 && starting_ == 0 &&
        workers_.size() < options_.max_threads) {
      deadline = std::min(deadline, last_progress_ + options_.stall);
      timing_stall_ = true;
    }
    watch_cv_.WaitWithDeadline(&mu_, deadline);
  }
}

}  // namespace esdb::devnode
