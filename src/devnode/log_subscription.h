// One subscription of the log node, to $all or to one stream. It owns no thread: its work runs
// on the node's shared WorkerPool, one job at a time (a strand), so its callbacks run one at a
// time and in log order while the number of threads does not follow the number of
// subscriptions.
//
// It catches up by reading the store in batches (one batch per job, so others get their turn),
// filtering and counting checkpoints itself; when it has read as far as the tail has published
// it joins the tail (log_tail.h), which from then on queues the events it matches. If its
// callbacks fall behind by more than the tail lets wait, the tail lets it go with a kRejoin item
// and it reads on from the store from there. A stream subscription is a $all scan restricted to
// the stream, started near its first wanted event.
#ifndef ESDB_DEVNODE_LOG_SUBSCRIPTION_H_
#define ESDB_DEVNODE_LOG_SUBSCRIPTION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "devnode/log_filter.h"
#include "devnode/log_store.h"
#include "devnode/log_tail.h"
#include "esdb/node.h"

namespace esdb::devnode {

class ReaderPool;
class WorkerPool;

struct SubscriptionConfig {
  uint64_t start_after = 0;  // deliver events with a greater position
  LogFilter filter;
  // Set for a stream subscription: only events of this stream with a revision above
  // after_revision match (the filter still applies).
  std::optional<std::string> stream;
  int64_t after_revision = -1;
  uint32_t checkpoint_interval = 1000;  // scanned events between on_checkpoint calls; >= 1
  // Also call on_checkpoint when live and idle, if events were scanned since the last notice.
  bool idle_checkpoints = false;
  size_t read_batch = 512;                  // events per store read and at most per on_events; >= 1
  esdb_subscription_callbacks callbacks{};  // on_events is set; other NULL callbacks are skipped
};

// Callbacks run one at a time, in log order, on pool threads that other subscriptions share. No
// lock of the node is held while they run. An exception escaping a callback ends the
// subscription with on_dropped(ERROR) rather than terminating the process, although ABI
// callbacks must not throw in the first place.
class LogSubscription : public std::enable_shared_from_this<LogSubscription> {
 public:
  // Must be owned by a std::shared_ptr (its queued jobs hold one). `readers`, `tail` and `pool`
  // must outlive it.
  LogSubscription(ReaderPool* readers, LogTail* tail, WorkerPool* pool, SubscriptionConfig config);
  // Stops (as Stop()) if still running.
  ~LogSubscription();

  LogSubscription(const LogSubscription&) = delete;
  LogSubscription& operator=(const LogSubscription&) = delete;

  // Starts catching up. Call once.
  void Start();

  // Ends the subscription without on_dropped: when it returns no callback is running or will
  // run. It waits for this subscription's running callback only (a blocked on_events must be made
  // to return by the caller), never for other subscriptions'. Must not be called from a callback
  // of this subscription. Idempotent; callable from several threads.
  void Stop();

  // As Stop(), but the last call is on_dropped(status, message) (on a pool thread), unless the
  // subscription already ended (dropped on error, or stopped).
  void Drop(esdb_node_status status, std::string message);

  // Flow control for a subscriber that must not block in on_events: Pause() holds back the
  // callbacks after the running one, Resume() lets them go on. While paused, events wait up to
  // the tail's bound, then are read from the store again. Any thread, own callbacks included.
  void Pause();
  void Resume();

  // --- For the tail.
  const SubscriptionConfig& config() const { return config_; }
  bool Matches(const RecordedEvent& event) const;
  // Events queued and not yet passed to on_events.
  size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  // Queues work for the callbacks, after what is queued, taking the items out of `items` (left
  // empty). Ignored once the subscription ended.
  void Enqueue(std::vector<SubscriptionItem>& items);
  // The tail holds work for it: its next turn collects it (LogTail::Collect).
  void Notify();
  bool Ending() const { return ending_.load(); }

 private:
  enum class End { kNone, kStopped, kDropped, kFailed };

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Posts a Drain() job unless one is posted or running, or there is nothing to do.
  void Schedule() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A pool job: a turn of work, then Schedule() again if more is waiting.
  void Drain();
  void Turn();
  // One batch read from the store, or joining the tail.
  absl::Status CatchUp();
  absl::Status Run(const SubscriptionItem& item);
  // Passes events to on_events; false when the subscription is ending.
  bool Deliver(absl::Span<const RecordedEvent* const> events);
  void Checkpoint(uint64_t position);
  // Ends the subscription from its own strand, with on_dropped for `status`.
  void Fail(const absl::Status& status);

  ReaderPool* const readers_;
  LogTail* const tail_;
  WorkerPool* const pool_;
  const SubscriptionConfig config_;

  // The strand's own state: touched only by the Drain() job running at the time.
  ScanState scan_;
  bool caught_up_ = false;
  size_t read_size_ = 1;  // events of the next store read

  std::atomic<bool> ending_{false};
  std::atomic<size_t> pending_{0};

  mutable absl::Mutex mu_;
  absl::CondVar idle_cv_;  // signalled when a turn ends
  std::deque<SubscriptionItem> items_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;     // catching up: the store has more to read
  bool tail_ready_ ABSL_GUARDED_BY(mu_) = false;  // Notify() since the last collection
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;  // a Drain() job is posted or running
  bool running_ ABSL_GUARDED_BY(mu_) = false;    // a turn is running on `runner_`
  std::thread::id runner_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // no callback will start any more
  End end_ ABSL_GUARDED_BY(mu_) = End::kNone;
  bool drop_due_ ABSL_GUARDED_BY(mu_) = false;  // on_dropped still to be called
  esdb_node_status drop_status_ ABSL_GUARDED_BY(mu_) = ESDB_NODE_OK;
  std::string drop_message_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_SUBSCRIPTION_H_
