// Every connector's state, rebuilt from the store at start-up (through the $connectors index, so
// the log is never scanned) and kept current by executing commands through it.
#ifndef ESDB_CONNECTOR_REGISTRY_H_
#define ESDB_CONNECTOR_REGISTRY_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "connector/connector.h"
#include "node/node_client.h"

namespace esdb {

class Registry {
 public:
  // `node` must outlive the registry.
  explicit Registry(const NodeClient* node) : node_(node) {}

  // Reads the index and folds every connector's stream. Replaces what was loaded before.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // Re-reads one connector's stream (e.g. after a conflict, or a change made by another host).
  absl::StatusOr<Connector> Refresh(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

  // Catches up with changes made through other hosts: new index entries, and each connector's
  // stream from the revision already folded. Cheap when nothing changed (one short read each).
  absl::Status Sync() ABSL_LOCKS_EXCLUDED(mu_);

  // Decides `command` against the connector's current state and appends the events with the
  // revision they were decided on as the expected revision. Returns the new state. A concurrent
  // change (here or on another host) makes the append fail: Aborted, and the registry re-reads
  // the stream so that a retry decides on fresh state. Thread-safe.
  absl::StatusOr<Connector> Execute(const std::string& id, const Command& command)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::optional<Connector> Get(const std::string& id) const ABSL_LOCKS_EXCLUDED(mu_);
  // Existing connectors, ordered by id.
  std::vector<Connector> List() const ABSL_LOCKS_EXCLUDED(mu_);

  // Test hook: runs between deciding a command and appending its events, so a test can slip a
  // concurrent change in deterministically.
  void SetBeforeAppendForTesting(std::function<void()> hook) { before_append_ = std::move(hook); }

  // Called (outside the lock) with the id after every change the registry makes or sees.
  void OnChange(std::function<void(const std::string&)> listener) { listener_ = std::move(listener); }

 private:
  absl::StatusOr<Connector> ReadConnector(const std::string& id) const;
  absl::Status EnsureIndexed(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // Reads index entries after `after`; returns the ids and the last revision read.
  absl::Status ReadIndex(int64_t after, std::map<std::string, bool>& ids, int64_t& last) const;
  void Store(const Connector& c) ABSL_LOCKS_EXCLUDED(mu_);

  const NodeClient* node_;
  std::function<void(const std::string&)> listener_;
  std::function<void()> before_append_;
  mutable absl::Mutex mu_;
  std::map<std::string, Connector> connectors_ ABSL_GUARDED_BY(mu_);  // includes deleted ones
  std::map<std::string, bool> indexed_ ABSL_GUARDED_BY(mu_);
  int64_t index_revision_ ABSL_GUARDED_BY(mu_) = -1;  // last index event read
};

}  // namespace esdb

#endif  // ESDB_CONNECTOR_REGISTRY_H_
