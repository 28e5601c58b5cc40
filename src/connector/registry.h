// Every connector's state, rebuilt from the store at start-up (through the $connectors index, so
// the log is never scanned), kept current by executing commands through it, and by following the
// library's streams with one subscription, so that changes made through other hosts arrive
// without re-reading anything. Costs scale with changes, not with the number of connectors.
#ifndef ESDB_CONNECTOR_REGISTRY_H_
#define ESDB_CONNECTOR_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "connector/connector.h"
#include "node/node_client.h"

namespace esdb {

class Registry : private SubscriptionHandler {
 public:
  // `node` must outlive the registry.
  explicit Registry(const NodeClient* node) : node_(node) {}
  ~Registry() override;

  // Reads the index, every connector's stream and last checkpoint, then follows the library's
  // streams. Replaces what was loaded before.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_, sync_mu_);

  // Reads what is new in one connector's stream and its last checkpoint (e.g. to answer a GET).
  absl::StatusOr<Connector> Refresh(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

  // Does what following could not: subscribes again after the subscription dropped (from the
  // last position it saw), and reads the index and the connectors where an event was missed.
  // No I/O when nothing is pending. Without Load() (no subscription), reads what is new in the
  // index and in each known connector's stream.
  absl::Status Sync() ABSL_LOCKS_EXCLUDED(mu_, sync_mu_);

  // Decides `command` against the connector's current state and appends the events with the
  // revision they were decided on as the expected revision. Returns the new state. A concurrent
  // change (here or on another host) makes the append fail: Aborted, and the registry re-reads
  // the stream so that a retry decides on fresh state. A damaged connector (see
  // Connector::damaged) only accepts Delete, which moves its id to a new generation.
  // Thread-safe.
  absl::StatusOr<Connector> Execute(const std::string& id, const Command& command)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::optional<Connector> Get(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_);
  // Existing connectors, ordered by id.
  std::vector<Connector> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every connector the registry knows, deleted ones too (exists false, folded up to their
  // ConnectorDeleted), ordered by id. Ids indexed but never created show with revision -1.
  std::vector<Connector> ListAll() const ABSL_LOCKS_EXCLUDED(mu_);
  // The last checkpoint seen for the connector's current generation.
  std::optional<Checkpoint> LastCheckpoint(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_);

  // Test hook: runs between deciding a command and appending its events, so a test can slip a
  // concurrent change in deterministically.
  void SetBeforeAppendForTesting(std::function<void()> hook) { before_append_ = std::move(hook); }

  // Called (outside the lock, maybe on a node thread; it must not block) with the id after every
  // change the registry makes or sees, and with an empty id when Sync() has work to do. Once
  // OnChange returns, the previous listener is not running and is never called again.
  void OnChange(std::function<void(const std::string&)> listener) ABSL_LOCKS_EXCLUDED(listener_mu_);

 private:
  // Folds what is new in the connector's stream into a copy of what is known (nothing stored).
  absl::StatusOr<Connector> CatchUp(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_);
  // CatchUp(), then stores the result.
  absl::StatusOr<Connector> CatchUpAndStore(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // Reads and applies what is new in the index.
  absl::Status ReadIndexTail() ABSL_LOCKS_EXCLUDED(mu_);
  // Applies the index entry at `revision` if it is the next one; false when one is missing.
  bool ApplyIndexEntry(uint64_t revision, const Record& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends an index entry moving `id` from generation `from` to the next one.
  absl::StatusOr<int64_t> NewGeneration(const std::string& id, int64_t from)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Follow(std::optional<Position> after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void Store(const Connector& c) ABSL_LOCKS_EXCLUDED(mu_);
  void Notify(const std::vector<std::string>& ids) const ABSL_LOCKS_EXCLUDED(listener_mu_);

  // SubscriptionHandler: the library's streams, on a node thread.
  void OnEvents(std::vector<Record> events) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCheckpoint(Position) override {}
  void OnCaughtUp(Position) override {}
  void OnDropped(absl::Status why) override ABSL_LOCKS_EXCLUDED(mu_);

  const NodeClient* node_;
  mutable absl::Mutex listener_mu_;
  std::function<void(const std::string&)> listener_ ABSL_GUARDED_BY(listener_mu_);
  std::function<void()> before_append_;

  absl::Mutex sync_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // Load() and Sync(), one at a time
  std::unique_ptr<Subscription> subscription_ ABSL_GUARDED_BY(sync_mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Connector> connectors_ ABSL_GUARDED_BY(mu_);  // includes deleted ones
  std::map<std::string, Checkpoint> checkpoints_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> generations_ ABSL_GUARDED_BY(mu_);  // indexed ids
  int64_t index_revision_ ABSL_GUARDED_BY(mu_) = -1;  // last index entry applied
  // What following missed, for Sync().
  std::set<std::string> stale_ ABSL_GUARDED_BY(mu_);
  bool index_stale_ ABSL_GUARDED_BY(mu_) = false;
  bool following_ ABSL_GUARDED_BY(mu_) = false;
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Position> followed_to_ ABSL_GUARDED_BY(mu_);  // last position the subscription saw
};

}  // namespace esdb

#endif  // ESDB_CONNECTOR_REGISTRY_H_
