// The log node: a single-member database behind the node ABI (esdb/node.h).
//
// Two uses: LogNode::InMemory() is the node every library unit test runs against (fast,
// deterministic, nothing on disk); LogNode::OpenSqlite() is the durable log of esdb-devnode.
// Both share the validation, stream-read and subscription code and differ only in the store.
//
// The log has one global sequence of positions starting at 1 (commit == prepare). Appends are
// atomic with their expected-revision check. Streams may carry metadata (a JSON object);
// "$maxCount" limits what stream reads see to the newest N events ($all keeps everything).
//
// Thread-safety: every method may be called from any thread, except Shutdown() and the
// destructor, which must not run inside a callback of this node.
#ifndef ESDB_DEVNODE_LOG_NODE_H_
#define ESDB_DEVNODE_LOG_NODE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "devnode/log_store.h"
#include "esdb/node.h"

namespace esdb::devnode {

class LogSubscription;
class LogTail;
struct SubscriptionConfig;
class ReaderPool;
class WorkerPool;
struct NodeApiView;

struct LogNodeOptions {
  std::string member_id = "devnode";  // this node's id in get_members
  std::string http_endpoint;          // reported in get_members ("host:port", may be empty)
  uint32_t default_checkpoint_interval = 1000;  // for subscriptions asking for 0
  size_t read_batch = 512;        // events per store read; the most per on_events call
  bool sqlite_full_sync = false;  // SQLite: fsync every commit (synchronous=FULL)
  // Subscriptions own no threads: their callbacks run on a shared pool (worker_pool.h) of at
  // least this many threads, and more, up to the max, only while callbacks block.
  size_t subscription_threads = 2;
  size_t max_subscription_threads = 64;
  // Events a live subscription may have waiting for its callbacks; past that it stops being
  // fed by appends and reads the log from where it is, rejoining the live tail when it is there.
  size_t max_pending_events = 4096;
  // After appends, how soon a live $all subscription that scanned events since its last notice
  // is told how far (on_checkpoint). InfiniteDuration(): never.
  absl::Duration idle_checkpoint_delay = absl::Milliseconds(250);
};

// An event to append through the C++ API.
struct AppendEvent {
  std::string event_id;    // canonical UUID text; empty: the node makes a random v4 UUID
  std::string event_type;  // required
  std::string content_type = "application/json";
  std::string data;
  std::string metadata;
};

struct AppendResult {
  // Revision of the stream's last event after the append. An append of zero events reports the
  // stream's current revision, or kNoRevision when it has no events.
  uint64_t next_expected_revision = 0;
  uint64_t position = 0;  // position of that event; 0 when there is none
};

// One stream's share of an AppendBatch() call.
struct StreamEvents {
  std::string stream;
  int64_t expected_revision = ESDB_EXPECT_ANY;
  std::vector<AppendEvent> events;
};

struct NodeMember {
  std::string member_id;
  int32_t role = ESDB_ROLE_LEADER;  // ESDB_ROLE_*
  bool alive = true;
  std::string http_endpoint;
};

class LogNode {
 public:
  static std::unique_ptr<LogNode> InMemory(LogNodeOptions options = {});
  // Opens or creates the SQLite log at `path` (a file). Positions continue where they stopped.
  static absl::StatusOr<std::unique_ptr<LogNode>> OpenSqlite(const std::string& path,
                                                             LogNodeOptions options = {});

  // Shutdown(), then frees every subscription and watch the library did not release.
  ~LogNode();
  LogNode(const LogNode&) = delete;
  LogNode& operator=(const LogNode&) = delete;

  // The node ABI table, every function filled; valid for the LogNode's lifetime. Its functions
  // return the same statuses as the C++ methods below (see node_status.h for the mapping) and
  // turn any exception into ESDB_NODE_ERROR with the text in err.
  const esdb_node_api* api() const;
  // A table that reports `member_id` as self in get_members but is otherwise api(): for tests
  // that run several library instances (hosts) against one log. Valid for the LogNode's
  // lifetime; the same id gives the same table.
  const esdb_node_api* ApiForMember(const std::string& member_id);

  // --- C++ conveniences for the host (HTTP/gRPC front ends) and tests. Errors are the node
  // statuses carried in absl::Status (node_status.h): ToNodeStatus() recovers the exact code and,
  // for WRONG_EXPECTED_VERSION (Aborted), ActualRevision() the stream's revision (-1: none).
  // Every call fails with UNAVAILABLE after Shutdown().

  // Appends `events` to `stream` atomically if it is at `expected_revision` (a revision >= 0 or
  // ESDB_EXPECT_*). Zero events with a met expectation is OK and writes nothing.
  // INVALID_ARGUMENT: empty stream, empty event type, event id that is not a UUID.
  absl::StatusOr<AppendResult> Append(const std::string& stream, int64_t expected_revision,
                                      std::vector<AppendEvent> events);
  // Several streams in one transaction (all or nothing), one result per entry. The cheap way to
  // load many events: one commit for the lot.
  absl::StatusOr<std::vector<AppendResult>> AppendBatch(std::vector<StreamEvents> batch);

  // Reads up to max_count events of `stream` from from_revision (inclusive; ESDB_REVISION_END:
  // the last event) in `direction`, calling on_event until it returns false. Honours $maxCount
  // as of the start of the read. STREAM_NOT_FOUND when the stream has no events.
  absl::Status ReadStream(const std::string& stream, ReadDirection direction,
                          uint64_t from_revision, uint64_t max_count,
                          const std::function<bool(const RecordedEvent&)>& on_event);
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(const std::string& stream,
                                                        ReadDirection direction,
                                                        uint64_t from_revision, uint64_t max_count);
  // Up to max_count events of $all from from_position inclusive (forwards: 0 = the start;
  // backwards: UINT64_MAX = the end), none after the one that brings their ByteSize() to
  // max_bytes.
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(ReadDirection direction,
                                                     uint64_t from_position, uint64_t max_count,
                                                     size_t max_bytes = SIZE_MAX);
  // Position of the last event, 0 when the log is empty.
  uint64_t LastPosition() const;

  // Soft delete: if the stream is at `expected_revision` (as for Append), its events become
  // unreadable (reads give STREAM_NOT_FOUND) and a later append recreates it, revisions
  // continuing after the old last one. $all still holds the old events. Returns the log's last
  // position. STREAM_DELETED for a tombstoned stream; deleting a missing stream with EXPECT_ANY
  // or EXPECT_NO_STREAM is OK and changes nothing.
  absl::StatusOr<uint64_t> DeleteStream(const std::string& stream, int64_t expected_revision);
  // Hard delete: as DeleteStream(), but for ever: reads, appends and deletes of the stream then
  // fail with STREAM_DELETED (read_stream of the node ABI reports STREAM_NOT_FOUND, as the ABI
  // promises). The stream need not exist.
  absl::StatusOr<uint64_t> TombstoneStream(const std::string& stream, int64_t expected_revision);

  // --- C++ subscriptions, for the gRPC front end. Callbacks are those of the node ABI
  // (esdb/node.h; on_events is required), run one at a time on node threads that other
  // subscriptions share. The subscription lasts until the handle is destroyed; destroying it is
  // unsubscribe_all (not from inside its callbacks; make a blocked on_events return first) and
  // must happen before the LogNode is destroyed. Shutdown() drops it with on_dropped(UNAVAILABLE).
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Flow control instead of blocking in on_events: after Pause() no callback starts (the
    // running one finishes) until Resume(). Appends meanwhile wait in memory up to
    // max_pending_events, then are read from the log again. Any thread, the subscription's own
    // callbacks included; not counted (one Resume() undoes any number of Pause()).
    void Pause();
    void Resume();

   private:
    friend class LogNode;
    Subscription(LogNode* node, LogSubscription* handle) : node_(node), handle_(handle) {}
    LogNode* const node_;
    LogSubscription* const handle_;
  };

  // $all, exactly as subscribe_all of the node ABI.
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeAll(
      const esdb_subscribe_options& options, const esdb_subscription_callbacks& callbacks);

  enum class StreamFrom { kStart, kEnd, kAfterRevision };
  // One stream: its events from the first readable one (kStart), only new ones (kEnd) or those
  // after `revision` (kAfterRevision), then live. on_caught_up is called when the subscription
  // reaches the end of the log; on_checkpoint is never called. STREAM_DELETED for a tombstoned
  // stream; a missing stream is fine (its events arrive when written).
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeStream(
      const std::string& stream, StreamFrom from, uint64_t revision,
      const esdb_subscription_callbacks& callbacks);

  // "{}" when none was set. Setting replaces; INVALID_ARGUMENT unless `json` is an object whose
  // $maxCount, if any, is an integer >= 1.
  absl::StatusOr<std::string> GetStreamMetadata(const std::string& stream);
  absl::Status SetStreamMetadata(const std::string& stream, const std::string& json);

  // The membership view get_members reports; initially this node alone, leader and alive.
  std::vector<NodeMember> Members() const;

  // --- Test hooks.

  // Replaces the membership view, then calls every watcher's changed() on this thread before
  // returning. Watchers must not call watch_members/unwatch_members from changed().
  void SetMembers(std::vector<NodeMember> members);
  // The next `count` appends (C or C++) naming a stream that starts with `stream_prefix` fail
  // with `status` and write nothing (for AppendBatch: the whole batch). WRONG_EXPECTED_VERSION
  // carries the stream's real revision. count <= 0 or ESDB_NODE_OK cancels the prefix's rules.
  void FailNextAppends(const std::string& stream_prefix, esdb_node_status status, int count);
  // Runs `hook` in every successful append after the store has committed the events and before
  // the live tail hears of them, on the appending thread, with appends held up. Empty: none.
  void SetCommitHook(std::function<void()> hook);
  // Subscriptions made and not yet unsubscribed (C and C++).
  size_t SubscriptionCount();

  // Drops every subscription with on_dropped(UNAVAILABLE, "node shutting down") and waits for
  // those calls; afterwards every call fails with UNAVAILABLE. The handles stay valid for
  // unsubscribe_all. A subscription blocked in on_events delays this until it returns.
  // Idempotent.
  void Shutdown();

  const LogNodeOptions& options() const { return options_; }

 private:
  friend class LogNodeApi;  // the C trampolines (log_node_api.cc)

  struct FaultRule {
    std::string prefix;
    esdb_node_status status;
    int remaining;
  };
  struct Watch {
    void (*changed)(void* user);
    void* user;
  };

  LogNode(std::unique_ptr<LogStore> store, LogNodeOptions options);

  absl::Status CheckRunning() const;
  // Validates, applies injected faults, stores, and hands the events to the live tail.
  absl::StatusOr<std::vector<AppendOutcome>> Write(std::vector<StreamEvents> batch);
  absl::Status InjectedFault(const std::vector<StreamAppend>& appends);

  absl::StatusOr<uint64_t> Delete(const std::string& stream, int64_t expected_revision,
                                  bool tombstone);

  // For the C trampolines: subscription handles are LogSubscription pointers.
  absl::StatusOr<LogSubscription*> Subscribe(const esdb_subscribe_options& options,
                                             const esdb_subscription_callbacks& callbacks);
  // Makes the subscription for `config` and starts its catch-up.
  absl::StatusOr<LogSubscription*> Start(SubscriptionConfig config);
  absl::StatusOr<std::unique_ptr<Subscription>> WrapSubscription(
      absl::StatusOr<LogSubscription*> handle);
  void Unsubscribe(LogSubscription* subscription);
  absl::StatusOr<Watch*> AddWatch(void (*changed)(void* user), void* user);
  void RemoveWatch(Watch* watch);

  const LogNodeOptions options_;
  const std::unique_ptr<LogStore> store_;
  const std::unique_ptr<ReaderPool> readers_;
  // Runs the subscriptions' work. Stopped first in ~LogNode (explicitly: the tail, declared
  // after it, uses it), while the tail and the readers are still there.
  std::unique_ptr<WorkerPool> pool_;
  const std::unique_ptr<LogTail> tail_;
  // Held across the store's append and the tail's Publish(), so the tail gets appends in
  // position order. The stores serialise their writers anyway.
  absl::Mutex write_mu_;
  std::function<void()> commit_hook_ ABSL_GUARDED_BY(write_mu_);

  mutable absl::Mutex views_mu_;
  std::vector<std::unique_ptr<NodeApiView>> views_ ABSL_GUARDED_BY(views_mu_);  // [0]: api()
  const NodeApiView* default_view_ = nullptr;

  // Set before Shutdown() takes subs_mu_; Subscribe() reads it under subs_mu_, so a
  // subscription either is refused or is seen (and dropped) by Shutdown().
  std::atomic<bool> shut_down_{false};
  absl::Mutex subs_mu_;
  absl::flat_hash_map<LogSubscription*, std::shared_ptr<LogSubscription>> subscriptions_
      ABSL_GUARDED_BY(subs_mu_);

  absl::Mutex faults_mu_;
  std::vector<FaultRule> faults_ ABSL_GUARDED_BY(faults_mu_);

  mutable absl::Mutex members_mu_;
  std::vector<NodeMember> members_ ABSL_GUARDED_BY(members_mu_);

  // Held while changed() callbacks run, so RemoveWatch() waits for a running one.
  absl::Mutex watch_mu_;
  absl::flat_hash_map<Watch*, std::unique_ptr<Watch>> watches_ ABSL_GUARDED_BY(watch_mu_);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_NODE_H_
