// RAII handles and Status-returning helpers over the SQLite C API, for the SQLite log.
#ifndef ESDB_DEVNODE_SQLITE_UTIL_H_
#define ESDB_DEVNODE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb::devnode {

struct SqliteDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteDbCloser>;

struct SqliteStmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqliteStmt = std::unique_ptr<sqlite3_stmt, SqliteStmtFinalizer>;

// A status for SQLite result code `rc` on `db` (may be NULL), prefixed with `context`. Busy and
// locked databases are UNAVAILABLE (transient); everything else is ERROR.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context);

// Opens `path` with sqlite3_open_v2 flags, with extended result codes and a busy timeout set.
absl::StatusOr<SqliteDb> SqliteOpen(const std::string& path, int flags);

// Runs one or more statements that return no rows needed by the caller.
absl::Status SqliteExec(sqlite3* db, const char* sql);

absl::StatusOr<SqliteStmt> SqlitePrepare(sqlite3* db, const char* sql);

// Resets `stmt` and clears its bindings on destruction. Resetting ends the statement's implicit
// read transaction, which must not stay open: it would pin the WAL and stop checkpoints.
class StmtReset {
 public:
  explicit StmtReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtReset(const StmtReset&) = delete;
  StmtReset& operator=(const StmtReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// SQLite integers are signed 64-bit; larger values (ESDB_REVISION_END, ...) saturate.
inline sqlite3_int64 ClampToSqlite(uint64_t value) {
  return value > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<sqlite3_int64>(value);
}

// Binds `text` without copying; it must outlive the statement's next step.
inline int BindText(sqlite3_stmt* stmt, int index, absl::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}
// Binds `bytes` as a blob (never NULL, even when empty) without copying.
inline int BindBlob(sqlite3_stmt* stmt, int index, absl::string_view bytes) {
  static const char kEmpty = 0;
  return sqlite3_bind_blob64(stmt, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

// Column `index` of the current row as bytes (text or blob); empty for NULL.
std::string ColumnBytes(sqlite3_stmt* stmt, int index);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_SQLITE_UTIL_H_
