// The shared tail of the log: each append hands the events it just wrote to the tail once, and
// the tail gives every live subscription the ones its filter matches, by queueing them for the
// subscription's callbacks (log_subscription.h). Live subscriptions neither wake on appends they
// do not match nor read the store.
//
// A subscription catches up by reading the store itself, then joins the tail at the position it
// has read to. Join() and Publish() take the same lock, and the tail remembers what it has
// published, so an event is either read by the subscription (at or below its join point) or
// queued by the tail (above it): never both, never neither.
//
// The tail finds the subscriptions an event matches through indexes: by stream for stream
// subscriptions, by prefix for filters made of prefixes only (one hash lookup per prefix length
// in use), and each other distinct filter (regexes, match-all) evaluated once per event however
// many subscriptions share it. It also counts the scan for checkpoint notices (positions are
// consecutive, so a subscription's next notice is a position, kept in an ordered map) and, when
// the log has moved, sends idle notices once per idle_checkpoint_delay.
#ifndef ESDB_DEVNODE_LOG_TAIL_H_
#define ESDB_DEVNODE_LOG_TAIL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "devnode/log_filter.h"
#include "devnode/log_store.h"

namespace esdb::devnode {

class LogSubscription;
class WorkerPool;

// How far a subscription has scanned the log, handed between its catch-up reads and the tail.
struct ScanState {
  uint64_t cursor = 0;           // every event up to here is scanned
  uint64_t next_checkpoint = 0;  // position of the next on_checkpoint
  uint64_t noticed = 0;          // position of the last checkpoint or caught-up notice
};

// Work the tail queues for a subscription's callbacks, in order.
// Bytes (RecordedEvent::ByteSize) that one on_events carries at most, after the event that
// reaches them (so at least one): a catch-up read, and what a lagging live subscription gets
// at once. read_batch events of up to 1 MiB each would be half a gigabyte, and each
// subscriber's copy of its callback as much again.
inline constexpr size_t kMaxCallbackBytes = size_t{4} << 20;

struct SubscriptionItem {
  enum class Kind { kEvents, kCheckpoint, kRejoin };
  Kind kind = Kind::kEvents;
  // kEvents: the matching events, pointing into `batches` (kept alive by them). Consecutive
  // kEvents items queued for a subscription are merged (LogSubscription::Enqueue), so one
  // on_events carries everything new since its last turn, up to read_batch events and
  // kMaxCallbackBytes.
  absl::InlinedVector<std::shared_ptr<const std::vector<RecordedEvent>>, 1> batches;
  absl::InlinedVector<const RecordedEvent*, 4> events;
  size_t bytes = 0;       // kEvents: their ByteSize(), kMaxCallbackBytes at most after the first
  uint64_t position = 0;  // kCheckpoint
  // kRejoin: the tail let the subscription go (too much was waiting for it); it reads the
  // store on from here and joins again.
  ScanState scan;
};

struct LogTailOptions {
  size_t read_batch = 512;  // the most events per kEvents item
  // Events waiting for a subscription's callbacks beyond which the tail lets it go.
  size_t max_pending_events = 4096;
  // When the log has moved, how soon a live subscription that scanned past its last notice is
  // told how far (on_checkpoint). InfiniteDuration: never.
  absl::Duration idle_checkpoint_delay = absl::Milliseconds(250);
};

class LogTail {
 public:
  // `published`: the log's last position. `pool` runs the idle notices; both outlive the tail's
  // use (the pool is stopped before the tail is destroyed).
  LogTail(uint64_t published, WorkerPool* pool, LogTailOptions options);
  ~LogTail();

  LogTail(const LogTail&) = delete;
  LogTail& operator=(const LogTail&) = delete;

  // Hands events just committed to the live subscriptions they match. Calls must come in
  // position order, each starting right after the previous one's last event (the node holds its
  // write lock across the store's append and this call). Never blocks on a subscriber.
  void Publish(std::shared_ptr<const std::vector<RecordedEvent>> events);

  // Makes `subscription` live if it has scanned as far as the tail has published: from then on
  // the tail queues the events after scan.cursor for it. False when there is more to read first,
  // or when the subscription is ending (LogSubscription::Ending()).
  bool Join(LogSubscription* subscription, const ScanState& scan);

  // Forgets `subscription` if it is live. When it returns, the tail no longer touches it.
  void Leave(LogSubscription* subscription);

  // Hands `subscription` everything the tail holds for it (LogSubscription::Enqueue), if it is
  // live. The tail keeps a live subscription's work until it asks: it calls
  // LogSubscription::Notify() once when work arrives, then only adds to what is held, so that
  // an append costs a subscription that is already due a turn no more than keeping a pointer.
  void Collect(LogSubscription* subscription);

  uint64_t published() const;

 private:
  struct Entry;
  struct Group {
    LogFilter filter;
    absl::flat_hash_set<Entry*> entries;
  };
  using EntrySet = absl::flat_hash_set<Entry*>;

  // Calls fn(entry) for every live entry whose subscription matches `event` (some maybe twice).
  template <typename Fn>
  void ForEachMatch(const RecordedEvent& event, Fn&& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddEvent(Entry* entry, const std::shared_ptr<const std::vector<RecordedEvent>>& batch,
                const RecordedEvent& event, std::vector<Entry*>& touched)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DueCheckpoints(uint64_t position, std::vector<Entry*>& touched)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Index(Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleIdleNotices() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After work was added for `entry`: lets it go if so decided, else notifies it once.
  void Hand(Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendIdleNotices() ABSL_LOCKS_EXCLUDED(mu_);

  WorkerPool* const pool_;
  const LogTailOptions options_;

  mutable absl::Mutex mu_;
  uint64_t published_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<LogSubscription*, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  // Each entry is in exactly one of these.
  absl::flat_hash_map<std::string, EntrySet> by_stream_ ABSL_GUARDED_BY(mu_);
  // [0]: stream-id prefixes, [1]: event-type prefixes; the lengths in use with their counts.
  absl::flat_hash_map<std::string, EntrySet> by_prefix_[2] ABSL_GUARDED_BY(mu_);
  std::map<size_t, size_t> prefix_lengths_[2] ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Group> by_filter_ ABSL_GUARDED_BY(mu_);
  // Entries that want on_checkpoint, by the position of their next one.
  std::multimap<uint64_t, Entry*> checkpoints_ ABSL_GUARDED_BY(mu_);
  bool idle_notices_scheduled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_TAIL_H_
