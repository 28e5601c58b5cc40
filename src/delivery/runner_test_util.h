// For runner tests: the settings they share, a collector of what a runner reports through
// RunnerOptions::on_event that waits for a kind of report, and a watch on the node's
// subscriptions.
#ifndef ESDB_DELIVERY_RUNNER_TEST_UTIL_H_
#define ESDB_DELIVERY_RUNNER_TEST_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "delivery/runner.h"
#include "esdb/node.h"

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

// The node's table with subscriptions watched: each one's options and callbacks are kept, its
// on_caught_up calls counted, its on_events held on demand, and the subscriptions made and still
// live counted. A test can see
// a runner end and renew its subscription, await the node having sent everything, see where the
// runner subscribed from, and call the runner's callbacks as a node would. Statics, as the
// table's functions get only the node's ctx: one instance at a time.
class SubscriptionSpy {
 public:
  explicit SubscriptionSpy(const esdb_node_api* inner) : table_(*inner) {
    absl::MutexLock l(&mu_);
    inner_ = inner;
    caught_up_ = 0;
    subscribes_ = 0;
    live_ = 0;
    events_held_ = false;
    at_gate_ = 0;
    table_.subscribe_all = &Subscribe;
    table_.unsubscribe_all = &Unsubscribe;
  }
  ~SubscriptionSpy() {
    absl::MutexLock l(&mu_);
    made_.clear();
  }
  const esdb_node_api* api() const { return &table_; }
  bool WaitForCaughtUp(int n) {
    absl::MutexLock l(&mu_);
    auto enough = [n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return caught_up_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
  // While held, every on_events waits before it reaches the runner (the node's thread with it).
  void HoldEvents(bool held) {
    absl::MutexLock l(&mu_);
    events_held_ = held;
  }
  // Waits until an on_events call is held.
  bool WaitForHeldEvents() {
    absl::MutexLock l(&mu_);
    auto waiting = []() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return at_gate_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&waiting), absl::Seconds(20));
  }
  int subscribes() {
    absl::MutexLock l(&mu_);
    return subscribes_;
  }
  // Waits until `n` subscriptions are live.
  bool WaitForLive(int n, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock l(&mu_);
    auto reached = [n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return live_ == n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }
  bool WaitForSubscriptions(size_t n) {
    absl::MutexLock l(&mu_);
    auto enough = [n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return made_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
  // The options of the i-th subscription made, and the runner's own callbacks for it.
  esdb_subscribe_options Options(size_t i) {
    absl::MutexLock l(&mu_);
    return made_.at(i)->options;
  }
  esdb_subscription_callbacks Callbacks(size_t i) {
    absl::MutexLock l(&mu_);
    return made_.at(i)->callbacks;
  }

 private:
  struct Made {
    esdb_subscribe_options options;
    esdb_subscription_callbacks callbacks;
  };

  static esdb_node_status Subscribe(void* ctx, const esdb_subscribe_options* options,
                                    const esdb_subscription_callbacks* callbacks,
                                    esdb_subscription** out, char* err, size_t err_size) {
    auto made = std::make_unique<Made>(Made{*options, *callbacks});
    esdb_subscription_callbacks mine = *callbacks;
    mine.user = &made->callbacks;
    mine.on_events = [](void* user, const esdb_recorded_event* const* events, size_t n) {
      {
        absl::MutexLock l(&mu_);
        ++at_gate_;
        mu_.Await(absl::Condition(+[](bool* held) { return !*held; }, &events_held_));
        --at_gate_;
      }
      auto* o = static_cast<esdb_subscription_callbacks*>(user);
      o->on_events(o->user, events, n);
    };
    mine.on_checkpoint = [](void* user, esdb_position p) {
      auto* o = static_cast<esdb_subscription_callbacks*>(user);
      o->on_checkpoint(o->user, p);
    };
    mine.on_caught_up = [](void* user, esdb_position p) {
      auto* o = static_cast<esdb_subscription_callbacks*>(user);
      o->on_caught_up(o->user, p);
      absl::MutexLock l(&mu_);
      ++caught_up_;
    };
    mine.on_dropped = [](void* user, esdb_node_status status, const char* message) {
      auto* o = static_cast<esdb_subscription_callbacks*>(user);
      o->on_dropped(o->user, status, message);
    };
    const esdb_node_api* inner;
    {
      absl::MutexLock l(&mu_);
      made_.push_back(std::move(made));  // kept until the spy goes
      inner = inner_;
    }
    esdb_node_status s = inner->subscribe_all(ctx, options, &mine, out, err, err_size);
    if (s == ESDB_NODE_OK) {
      absl::MutexLock l(&mu_);
      ++subscribes_;
      ++live_;
    }
    return s;
  }
  static void Unsubscribe(void* ctx, esdb_subscription* subscription) {
    const esdb_node_api* inner;
    {
      absl::MutexLock l(&mu_);
      inner = inner_;
    }
    inner->unsubscribe_all(ctx, subscription);
    absl::MutexLock l(&mu_);
    --live_;
  }

  static inline absl::Mutex mu_;
  static inline const esdb_node_api* inner_ ABSL_GUARDED_BY(mu_) = nullptr;
  static inline int caught_up_ ABSL_GUARDED_BY(mu_) = 0;
  static inline int subscribes_ ABSL_GUARDED_BY(mu_) = 0;
  static inline int live_ ABSL_GUARDED_BY(mu_) = 0;
  static inline bool events_held_ ABSL_GUARDED_BY(mu_) = false;
  static inline int at_gate_ ABSL_GUARDED_BY(mu_) = 0;
  static inline std::vector<std::unique_ptr<Made>> made_ ABSL_GUARDED_BY(mu_);
  esdb_node_api table_;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_RUNNER_TEST_UTIL_H_
