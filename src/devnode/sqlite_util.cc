#include "devnode/sqlite_util.h"

#include "absl/strings/str_cat.h"
#include "devnode/node_status.h"
#include "esdb/node.h"

namespace esdb::devnode {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  esdb_node_status status = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
                                ? ESDB_NODE_UNAVAILABLE
                                : ESDB_NODE_ERROR;
  return NodeError(status, absl::StrCat(context, ": ", detail, " (sqlite code ", rc, ")"));
}

absl::StatusOr<SqliteDb> SqliteOpen(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) {
    return SqliteError(db.get(), rc, absl::StrCat("cannot open SQLite database '", path, "'"));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  // Writers are serialised in-process, so waits come only from WAL checkpoints and recovery.
  sqlite3_busy_timeout(db.get(), 10000);
  return db;
}

absl::Status SqliteExec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return NodeError(rc == SQLITE_BUSY ? ESDB_NODE_UNAVAILABLE : ESDB_NODE_ERROR,
                   absl::StrCat("SQLite: '", sql, "' failed: ", text));
}

absl::StatusOr<SqliteStmt> SqlitePrepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  SqliteStmt stmt(raw);
  if (rc != SQLITE_OK) return SqliteError(db, rc, absl::StrCat("cannot prepare '", sql, "'"));
  return stmt;
}

std::string ColumnBytes(sqlite3_stmt* stmt, int index) {
  const void* bytes = sqlite3_column_blob(stmt, index);
  int size = sqlite3_column_bytes(stmt, index);
  if (bytes == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(bytes), static_cast<size_t>(size));
}

}  // namespace esdb::devnode
