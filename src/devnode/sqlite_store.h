// The durable log of the dev node: one SQLite file in WAL mode.
//
// Schema (user_version 2; a version 1 file is migrated in place when opened):
//   events(position INTEGER PRIMARY KEY, stream, revision, event_id, event_type, content_type,
//          data BLOB, metadata BLOB, created), unique on (stream, revision);
//   streams(stream PRIMARY KEY, last_revision (-1: metadata only), metadata JSON text,
//           tombstoned 0/1 (added in version 2)).
// One writer connection serialised by a mutex, one transaction per Append() call; each reader
// has its own read-only connection, so reads never wait for appends (WAL snapshots).
#ifndef ESDB_DEVNODE_SQLITE_STORE_H_
#define ESDB_DEVNODE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "devnode/log_store.h"

namespace esdb::devnode {

struct SqliteStoreOptions {
  // false: synchronous=NORMAL, a commit survives a process crash (SIGKILL) but maybe not a power
  // loss. true: synchronous=FULL, every commit is fsynced.
  bool full_sync = false;
};

// Opens (creating if needed) the log at `path`, a file name (not ":memory:": readers open their
// own connections to it). Fails on a file with an unknown schema version.
absl::StatusOr<std::unique_ptr<LogStore>> OpenSqliteStore(const std::string& path,
                                                          SqliteStoreOptions options = {});

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_SQLITE_STORE_H_
