#include "core/executor.h"

#include <pthread.h>

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/time/clock.h"

namespace esdb {
namespace {

// Names the calling thread after its pool (best effort: a name is only for people).
void NameThread(const ExecutorOptions& options) {
  if (!options.name.empty()) {
    pthread_setname_np(pthread_self(), options.name.substr(0, 15).c_str());
  }
}

}  // namespace

// Shared with every pool thread, so that a thread left behind by Shutdown() keeps what it uses.
struct Executor::State : std::enable_shared_from_this<State> {
  explicit State(ExecutorOptions o) : options(o) {
    options.min_threads = std::max(1, options.min_threads);
    options.max_threads = std::max(options.min_threads, options.max_threads);
  }

  // Starts one more thread if the queued work outnumbers the idle threads (with grow_after: has
  // the watcher look at it).
  void Dispatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (static_cast<int>(ready.size()) > idle + starting && threads < options.max_threads) {
      if (options.grow_after > absl::ZeroDuration()) {
        if (!watching) {
          watching = true;
          watch.Signal();
        }
      } else {
        Spawn();
      }
    }
    work.Signal();
  }

  void Spawn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    JoinExited();
    uint64_t id = next_id++;
    ++threads;
    ++starting;
    handles.emplace(id, std::thread([self = shared_from_this(), id] { self->Loop(id); }));
  }

  // With grow_after: adds a thread for each task that has waited that long with no thread free.
  void Watch() {
    NameThread(options);
    absl::MutexLock lock(&mu);
    while (!stopping) {
      if (!watching) {
        watch.Wait(&mu);
        continue;
      }
      if (ready.empty() || threads >= options.max_threads) {
        watching = false;
        continue;
      }
      // The first task that no idle (or starting) thread is about to take.
      const size_t free = static_cast<size_t>(idle + starting);
      if (ready.size() <= free) {
        watching = false;
        continue;
      }
      const absl::Time due = ready[free].since + options.grow_after;
      if (absl::Now() >= due) {
        Spawn();
        continue;
      }
      watch.WaitWithDeadline(&mu, due);
    }
  }

  // Threads that ended on their own have returned from Loop(); joining them is immediate.
  void JoinExited() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (uint64_t id : exited) {
      auto it = handles.find(id);
      if (it == handles.end()) continue;
      it->second.join();
      handles.erase(it);
    }
    exited.clear();
  }

  void Loop(uint64_t id) {
    NameThread(options);
    absl::MutexLock lock(&mu);
    if (starting > 0) --starting;
    while (true) {
      absl::Time now = absl::Now();
      while (!timers.empty() && timers.begin()->first <= now) {
        ready.push_back(Ready{std::move(timers.begin()->second), now});
        timers.erase(timers.begin());
      }
      if (ready.size() > 1) work.SignalAll();
      if (!ready.empty()) {
        absl::AnyInvocable<void()> task = std::move(ready.front().task);
        ready.pop_front();
        ++busy;
        mu.Unlock();
        task();
        task = nullptr;  // whatever it holds is released outside the lock
        mu.Lock();
        --busy;
        continue;
      }
      if (stopping) break;
      bool may_end = threads > options.min_threads;
      absl::Time idle_until = now + options.idle_timeout;
      absl::Time wake = timers.empty() ? absl::InfiniteFuture() : timers.begin()->first;
      if (may_end) wake = std::min(wake, idle_until);
      ++idle;
      work.WaitWithDeadline(&mu, wake);
      --idle;
      if (may_end && ready.empty() && absl::Now() >= idle_until && threads > options.min_threads) {
        break;
      }
    }
    --threads;
    exited.push_back(id);
    ended.SignalAll();
  }

  struct Ready {
    absl::AnyInvocable<void()> task;
    absl::Time since;  // when it became ready
  };

  ExecutorOptions options;
  absl::Mutex mu;
  absl::CondVar work;   // work arrived, a timer changed, or shutting down
  absl::CondVar ended;  // a thread ended
  absl::CondVar watch;  // the watcher has something to look at, or shutting down
  std::deque<Ready> ready ABSL_GUARDED_BY(mu);
  int starting ABSL_GUARDED_BY(mu) = 0;  // threads started that have not reached Loop() yet
  bool watching ABSL_GUARDED_BY(mu) = false;
  std::thread watcher;  // with grow_after; started by the constructor, joined by Shutdown()
  std::multimap<absl::Time, absl::AnyInvocable<void()>> timers ABSL_GUARDED_BY(mu);
  int threads ABSL_GUARDED_BY(mu) = 0;
  int idle ABSL_GUARDED_BY(mu) = 0;
  int busy ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;  // Shutdown() has returned
  bool clean ABSL_GUARDED_BY(mu) = true;      // what Shutdown() returned
  uint64_t next_id ABSL_GUARDED_BY(mu) = 0;
  std::map<uint64_t, std::thread> handles ABSL_GUARDED_BY(mu);
  std::vector<uint64_t> exited ABSL_GUARDED_BY(mu);
};

Executor::Executor(ExecutorOptions options) : state_(std::make_shared<State>(options)) {
  absl::MutexLock lock(&state_->mu);
  for (int i = 0; i < state_->options.min_threads; ++i) state_->Spawn();
  if (state_->options.grow_after > absl::ZeroDuration() &&
      state_->options.max_threads > state_->options.min_threads) {
    state_->watcher = std::thread([self = state_] { self->Watch(); });
  }
}

Executor::~Executor() { Shutdown(absl::InfiniteDuration()); }

// After Shutdown() a task is dropped: destroyed when this returns, outside the lock.
void Executor::Post(absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&state_->mu);
  if (state_->stopping) return;
  state_->ready.push_back(State::Ready{std::move(task), absl::Now()});
  state_->Dispatch();
}

void Executor::PostAt(absl::Time when, absl::AnyInvocable<void()> task) {
  absl::MutexLock lock(&state_->mu);
  if (state_->stopping) return;
  bool earliest = state_->timers.empty() || when < state_->timers.begin()->first;
  state_->timers.emplace(when, std::move(task));
  if (earliest) state_->work.Signal();  // a waiting thread recomputes its deadline
}

bool Executor::Shutdown(absl::Duration grace) {
  State& s = *state_;
  // Declared before the lock: dropped tasks and timers are destroyed after it is released.
  std::multimap<absl::Time, absl::AnyInvocable<void()>> timers;
  std::deque<State::Ready> dropped;
  std::thread watcher;
  absl::MutexLock lock(&s.mu);
  if (s.finished) return s.clean;
  s.stopping = true;
  timers.swap(s.timers);
  s.work.SignalAll();
  s.watch.SignalAll();
  watcher.swap(s.watcher);
  if (watcher.joinable()) {
    s.mu.Unlock();  // it ends as soon as it sees `stopping`
    watcher.join();
    s.mu.Lock();
  }
  absl::Time deadline = absl::Now() + grace;
  while (s.threads > 0 && !s.ended.WaitWithDeadline(&s.mu, deadline)) {
  }
  s.clean = s.threads == 0;
  dropped.swap(s.ready);  // empty unless a thread hangs
  s.JoinExited();
  for (auto& [id, thread] : s.handles) thread.detach();  // still running a task
  s.handles.clear();
  s.finished = true;
  return s.clean;
}

int Executor::threads() const {
  absl::MutexLock lock(&state_->mu);
  return state_->threads;
}

int Executor::busy() const {
  absl::MutexLock lock(&state_->mu);
  return state_->busy;
}

std::shared_ptr<SerialTask> SerialTask::Create(Executor* executor, std::function<void()> fn) {
  return std::shared_ptr<SerialTask>(new SerialTask(executor, std::move(fn)));
}

void SerialTask::PostLocked() {
  queued_ = true;
  executor_->Post([self = shared_from_this()] { self->Run(); });
}

void SerialTask::Schedule() {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  if (running_) {
    again_ = true;
  } else if (!queued_) {
    PostLocked();
  }
}

void SerialTask::RunHere() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (running_) {
      again_ = true;
      return;
    }
    if (queued_) return;  // the posted run comes soon enough
    running_ = true;
    again_ = false;
  }
  RunAndRepost();
}

void SerialTask::ScheduleAt(absl::Time when) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || timer_ <= when) return;
    timer_ = when;
  }
  executor_->PostAt(when, [self = shared_from_this(), when] {
    {
      absl::MutexLock lock(&self->mu_);
      if (self->timer_ == when) self->timer_ = absl::InfiniteFuture();
    }
    self->Schedule();
  });
}

void SerialTask::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  mu_.Await(absl::Condition(
      +[](bool* running) { return !*running; }, &running_));
}

void SerialTask::Run() {
  {
    absl::MutexLock lock(&mu_);
    queued_ = false;
    if (closed_) return;
    running_ = true;
    again_ = false;
  }
  RunAndRepost();
}

void SerialTask::RunAndRepost() {
  fn_();
  absl::MutexLock lock(&mu_);
  running_ = false;
  if (again_ && !closed_) {
    again_ = false;
    PostLocked();
  }
}

}  // namespace esdb
