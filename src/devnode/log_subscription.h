// One subscription of the log node, to $all or to one stream: a thread that catches up from the
// store in batches, filters, reports checkpoints and then follows appends live. A stream
// subscription is a $all scan restricted to the stream, started near its first wanted event.
#ifndef ESDB_DEVNODE_LOG_SUBSCRIPTION_H_
#define ESDB_DEVNODE_LOG_SUBSCRIPTION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "devnode/log_filter.h"
#include "devnode/log_store.h"
#include "devnode/log_tail.h"
#include "esdb/node.h"

namespace esdb::devnode {

struct SubscriptionConfig {
  uint64_t start_after = 0;  // deliver events with a greater position
  LogFilter filter;
  // Set for a stream subscription: only events of this stream with a revision above
  // after_revision match (the filter still applies).
  std::optional<std::string> stream;
  int64_t after_revision = -1;
  uint32_t checkpoint_interval = 1000;      // scanned events between on_checkpoint calls; >= 1
  // Also call on_checkpoint when live and idle, if events were scanned since the last notice.
  bool idle_checkpoints = false;
  size_t read_batch = 512;                  // events per store read and at most per on_events; >= 1
  esdb_subscription_callbacks callbacks{};  // on_events is set; other NULL callbacks are skipped
};

// Callbacks run one at a time on the subscription's own thread, in log order. No store lock is
// held while they run (events are copied out of the store first). An exception escaping a
// callback ends the subscription with on_dropped(ERROR) rather than terminating the process,
// although ABI callbacks must not throw in the first place.
class LogSubscription {
 public:
  // `reader` is this subscription's own; `tail` must outlive the subscription.
  LogSubscription(std::unique_ptr<LogReader> reader, LogTail* tail, SubscriptionConfig config);
  // Stops (as Stop()) if still running.
  ~LogSubscription();

  LogSubscription(const LogSubscription&) = delete;
  LogSubscription& operator=(const LogSubscription&) = delete;

  // Starts the thread. Call once.
  void Start();

  // Ends the subscription without on_dropped and joins the thread: when it returns no callback
  // is running or will run. A blocked on_events must be made to return by the caller. Must not be
  // called from a callback of this subscription. Idempotent; callable from several threads.
  void Stop();

  // As Stop(), but the thread's last call is on_dropped(status, message), unless the
  // subscription already ended (dropped on error, or stopped).
  void Drop(esdb_node_status status, std::string message);

 private:
  enum class End { kNone, kStopped, kDropped, kFailed };

  void Run();
  // The catch-up and live loop; returns when asked to end or on a store error.
  absl::Status Follow();
  bool Matches(const RecordedEvent& event) const;
  // Passes matched events to on_events; false when the subscription is ending.
  bool Deliver(const std::vector<const RecordedEvent*>& events);
  bool Ending() const { return stopping_.load(); }
  // Sets the reason the subscription ends if none is set yet; true if this call set it.
  bool RequestEnd(End why);
  void Join();

  const std::unique_ptr<LogReader> reader_;
  LogTail* const tail_;
  const SubscriptionConfig config_;

  std::atomic<bool> stopping_{false};
  absl::Mutex end_mu_;
  End end_ ABSL_GUARDED_BY(end_mu_) = End::kNone;
  esdb_node_status drop_status_ ABSL_GUARDED_BY(end_mu_) = ESDB_NODE_OK;
  std::string drop_message_ ABSL_GUARDED_BY(end_mu_);

  absl::Mutex join_mu_;  // serialises joining: Stop() and Drop() may race
  std::thread thread_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_SUBSCRIPTION_H_
