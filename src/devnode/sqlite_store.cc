#include "devnode/sqlite_store.h"

#include <pthread.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "devnode/sqlite_util.h"

namespace esdb::devnode {
namespace {

constexpr int kSchemaVersion = 2;

constexpr char kCreateSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS events(
  position     INTEGER PRIMARY KEY,
  stream       TEXT    NOT NULL,
  revision     INTEGER NOT NULL,
  event_id     TEXT    NOT NULL,
  event_type   TEXT    NOT NULL,
  content_type TEXT    NOT NULL,
  data         BLOB    NOT NULL,
  metadata     BLOB    NOT NULL,
  created      INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream ON events(stream, revision);
CREATE TABLE IF NOT EXISTS streams(
  stream        TEXT    PRIMARY KEY,
  last_revision INTEGER NOT NULL,
  metadata      TEXT    NOT NULL DEFAULT '{}',
  tombstoned    INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
PRAGMA user_version = 2;
)sql";

// Version 1 had no tombstones.
constexpr char kMigrateFrom1[] = R"sql(
ALTER TABLE streams ADD COLUMN tombstoned INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 2;
)sql";

constexpr char kStreamInfoColumns[] = "last_revision, metadata, tombstoned";

// A streams row (kStreamInfoColumns order) of `stream`, whose statement just returned it.
absl::StatusOr<StreamInfo> StreamInfoRow(sqlite3_stmt* stmt, const std::string& stream) {
  StreamInfo info;
  info.last_revision = sqlite3_column_int64(stmt, 0);
  absl::StatusOr<StreamMetadata> metadata = ParseStreamMetadata(ColumnBytes(stmt, 1));
  if (!metadata.ok()) {
    return absl::InternalError(absl::StrCat("stored metadata of stream '", stream,
                                            "' is corrupt: ", metadata.status().message()));
  }
  info.metadata = *std::move(metadata);
  info.tombstoned = sqlite3_column_int64(stmt, 2) != 0;
  return info;
}

constexpr char kEventColumns[] =
    "position, stream, revision, event_id, event_type, content_type, data, metadata, created";

// Runs a prepared statement, collecting rows as events (kEventColumns order), until it is done
// or the events' ByteSize() has reached `max_bytes`.
absl::StatusOr<std::vector<RecordedEvent>> CollectEvents(sqlite3* db, sqlite3_stmt* stmt,
                                                         size_t max_bytes = SIZE_MAX) {
  std::vector<RecordedEvent> out;
  size_t bytes = 0;
  int rc = SQLITE_DONE;
  while (bytes < max_bytes && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    RecordedEvent& e = out.emplace_back();
    e.position = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    e.stream = ColumnBytes(stmt, 1);
    e.revision = static_cast<uint64_t>(sqlite3_column_int64(stmt, 2));
    e.event_id = ColumnBytes(stmt, 3);
    e.event_type = ColumnBytes(stmt, 4);
    e.content_type = ColumnBytes(stmt, 5);
    e.data = ColumnBytes(stmt, 6);
    e.metadata = ColumnBytes(stmt, 7);
    e.created_unix_us = sqlite3_column_int64(stmt, 8);
    bytes += e.ByteSize();
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqliteError(db, rc, "reading events");
  return out;
}

// Steps a statement expected to finish without rows.
absl::Status StepDone(sqlite3* db, sqlite3_stmt* stmt, absl::string_view what) {
  StmtReset reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return SqliteError(db, rc, what);
  return absl::OkStatus();
}

class SqliteReader final : public LogReader {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteReader>> Open(const std::string& path) {
    auto reader = std::unique_ptr<SqliteReader>(new SqliteReader());
    absl::StatusOr<SqliteDb> db = SqliteOpen(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (!db.ok()) return db.status();
    reader->db_ = *std::move(db);
    sqlite3* h = reader->db_.get();
    const std::string cols = kEventColumns;
    struct {
      SqliteStmt* stmt;
      std::string sql;
    } statements[] = {
        {&reader->all_forwards_,
         "SELECT " + cols + " FROM events WHERE position >= ?1 ORDER BY position LIMIT ?2"},
        {&reader->all_backwards_,
         "SELECT " + cols + " FROM events WHERE position <= ?1 ORDER BY position DESC LIMIT ?2"},
        {&reader->stream_forwards_, "SELECT " + cols +
                                        " FROM events WHERE stream = ?1 AND revision >= ?2"
                                        " ORDER BY revision LIMIT ?3"},
        {&reader->stream_backwards_, "SELECT " + cols +
                                         " FROM events WHERE stream = ?1 AND revision <= ?2"
                                         " ORDER BY revision DESC LIMIT ?3"},
        {&reader->stream_info_,
         absl::StrCat("SELECT ", kStreamInfoColumns, " FROM streams WHERE stream = ?1")},
    };
    for (auto& [stmt, sql] : statements) {
      absl::StatusOr<SqliteStmt> prepared = SqlitePrepare(h, sql.c_str());
      if (!prepared.ok()) return prepared.status();
      *stmt = *std::move(prepared);
    }
    return reader;
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(ReadDirection direction,
                                                     uint64_t from_position, size_t max_count,
                                                     size_t max_bytes) override {
    sqlite3_stmt* stmt =
        direction == ReadDirection::kForwards ? all_forwards_.get() : all_backwards_.get();
    StmtReset reset(stmt);
    sqlite3_bind_int64(stmt, 1, ClampToSqlite(from_position));
    sqlite3_bind_int64(stmt, 2, ClampToSqlite(max_count));
    return CollectEvents(db_.get(), stmt, max_bytes);
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(const std::string& stream,
                                                        ReadDirection direction,
                                                        uint64_t from_revision,
                                                        size_t max_count) override {
    sqlite3_stmt* stmt =
        direction == ReadDirection::kForwards ? stream_forwards_.get() : stream_backwards_.get();
    StmtReset reset(stmt);
    BindText(stmt, 1, stream);
    sqlite3_bind_int64(stmt, 2, ClampToSqlite(from_revision));
    sqlite3_bind_int64(stmt, 3, ClampToSqlite(max_count));
    return CollectEvents(db_.get(), stmt);
  }

  absl::StatusOr<std::optional<StreamInfo>> GetStream(const std::string& stream) override {
    sqlite3_stmt* stmt = stream_info_.get();
    StmtReset reset(stmt);
    BindText(stmt, 1, stream);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) return SqliteError(db_.get(), rc, "reading stream info");
    return StreamInfoRow(stmt, stream);
  }

 private:
  SqliteReader() = default;

  SqliteDb db_;
  SqliteStmt all_forwards_, all_backwards_, stream_forwards_, stream_backwards_, stream_info_;
};

// Copies the WAL back into the database file on a thread of its own. SQLite's own automatic
// checkpoint runs inside the COMMIT that takes the WAL past its threshold, so every thousandth
// page or so an append (and every append waiting behind it for the writer) took a few
// milliseconds more: with connectors checkpointing, several times a second. Here the writer's
// commit only signals (sqlite3_wal_hook), and a PASSIVE checkpoint on another connection copies
// the pages beside the writer and the readers. The WAL starts over from its beginning only when
// a write transaction finds all of it copied back; under a steady stream of commits the copy
// never quite catches up, so at twice the threshold the commit itself finishes the copy (just
// the pages written since the background one: short) and the WAL starts over. That finds the
// checkpoint lock taken while a background pass runs; when the machine is short of CPU such a
// pass can take long and the WAL would grow with every commit meanwhile, so at four times the
// threshold the commit waits for the pass to end (up to a second) before its own: the WAL stays
// bounded, and appends slow down only when the copy has fallen that far behind.
class WalCheckpointer {
 public:
  static constexpr int kPages = 1000;  // WAL pages that make a checkpoint due (SQLite's default)
  static constexpr int kInlinePages = 2 * kPages;
  static constexpr int kWaitingPages = 4 * kPages;

  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                sqlite3* writer) {
    absl::StatusOr<SqliteDb> db = SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    if (!db.ok()) return db.status();
    // A connection learns that the file is in WAL mode when it first reads it; until then a
    // checkpoint on it does nothing.
    if (absl::Status st = SqliteExec(db->get(), "SELECT COUNT(*) FROM sqlite_schema"); !st.ok()) {
      return st;
    }
    auto checkpointer = std::unique_ptr<WalCheckpointer>(new WalCheckpointer(writer));
    checkpointer->db_ = *std::move(db);
    if (absl::Status st = SqliteExec(writer, "PRAGMA wal_autocheckpoint=0"); !st.ok()) return st;
    sqlite3_wal_hook(writer, &WalCheckpointer::OnCommit, checkpointer.get());
    checkpointer->thread_ = std::thread([c = checkpointer.get()] { c->Loop(); });
    return checkpointer;
  }

  // The writer must be idle (the store is closing).
  ~WalCheckpointer() {
    sqlite3_wal_hook(writer_, nullptr, nullptr);
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

 private:
  explicit WalCheckpointer(sqlite3* writer) : writer_(writer) {}

  // On the writer's thread, after its COMMIT (as SQLite's own automatic checkpoint).
  static int OnCommit(void* self, sqlite3* writer, const char*, int pages) {
    auto* c = static_cast<WalCheckpointer*>(self);
    if (pages >= kWaitingPages) {
      absl::MutexLock lock(&c->mu_);
      c->mu_.AwaitWithTimeout(absl::Condition(
                                  +[](bool* copying) { return !*copying; }, &c->copying_),
                              absl::Seconds(1));
    }
    if (pages >= kInlinePages) {
      (void)sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
    } else if (pages >= kPages) {
      absl::MutexLock lock(&c->mu_);
      c->due_ = true;
    }
    return SQLITE_OK;
  }

  void Loop() {
    pthread_setname_np(pthread_self(), "esdb-wal-ckpt");
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](WalCheckpointer* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
              return c->due_ || c->stop_;
            },
            this));
        if (stop_) return;
        due_ = false;
        copying_ = true;
      }
      // A failure (a reader holding an old snapshot, the disk) leaves the WAL longer for a while;
      // the next commit past the threshold asks again.
      (void)sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                      nullptr);
      absl::MutexLock lock(&mu_);
      copying_ = false;
    }
  }

  sqlite3* const writer_;
  SqliteDb db_;
  absl::Mutex mu_;
  bool due_ ABSL_GUARDED_BY(mu_) = false;
  bool copying_ ABSL_GUARDED_BY(mu_) = false;  // a background pass is running
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

class SqliteStore final : public LogStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           SqliteStoreOptions options);

  absl::StatusOr<std::vector<AppendOutcome>> Append(std::vector<StreamAppend> appends,
                                                    std::vector<RecordedEvent>* written) override;
  absl::Status SetStreamMetadata(const std::string& stream,
                                 const StreamMetadata& metadata) override;
  absl::Status DeleteStream(const std::string& stream, int64_t expected_revision,
                            bool tombstone) override;
  uint64_t LastPosition() const override { return last_position_.load(); }
  absl::StatusOr<std::unique_ptr<LogReader>> OpenReader() override {
    absl::StatusOr<std::unique_ptr<SqliteReader>> reader = SqliteReader::Open(path_);
    if (!reader.ok()) return reader.status();
    return std::unique_ptr<LogReader>(*std::move(reader));
  }

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  absl::Status Prepare() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The body of Append() inside BEGIN IMMEDIATE; advances *next_position per event written.
  absl::StatusOr<std::vector<AppendOutcome>> AppendInTransaction(
      const std::vector<StreamAppend>& appends, uint64_t* next_position)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream's row; a default StreamInfo (no events) when it has none.
  absl::StatusOr<StreamInfo> CurrentInfo(const std::string& stream)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back when it or the commit fails.
  absl::Status InTransaction(absl::string_view what, const std::function<absl::Status()>& body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> PositionOf(const std::string& stream, int64_t revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;  // the writer connection is used by one thread at a time
  SqliteDb db_ ABSL_GUARDED_BY(mu_);
  SqliteStmt begin_ ABSL_GUARDED_BY(mu_), commit_ ABSL_GUARDED_BY(mu_),
      rollback_ ABSL_GUARDED_BY(mu_), current_revision_ ABSL_GUARDED_BY(mu_),
      position_of_ ABSL_GUARDED_BY(mu_), insert_event_ ABSL_GUARDED_BY(mu_),
      set_revision_ ABSL_GUARDED_BY(mu_), set_metadata_ ABSL_GUARDED_BY(mu_),
      set_tombstone_ ABSL_GUARDED_BY(mu_);
  // Committed; written under mu_, read without it.
  std::atomic<uint64_t> last_position_{0};
  // Declared after db_: stopped before the writer connection closes.
  std::unique_ptr<WalCheckpointer> checkpointer_;
};

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               SqliteStoreOptions options) {
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(path));
  absl::MutexLock lock(&store->mu_);
  absl::StatusOr<SqliteDb> db =
      SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  if (!db.ok()) return db.status();
  store->db_ = *std::move(db);
  sqlite3* h = store->db_.get();

  // journal_mode answers with the mode in force; a file that cannot do WAL must not be used
  // silently in another mode (readers would then block the writer).
  {
    absl::StatusOr<SqliteStmt> wal = SqlitePrepare(h, "PRAGMA journal_mode=WAL");
    if (!wal.ok()) return wal.status();
    int rc = sqlite3_step(wal->get());
    std::string mode = rc == SQLITE_ROW ? ColumnBytes(wal->get(), 0) : "";
    if (mode != "wal") {
      return absl::InternalError(
          absl::StrCat("SQLite database '", path, "' cannot use WAL mode (got '", mode, "')"));
    }
  }
  if (absl::Status st = SqliteExec(
          h, options.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      !st.ok()) {
    return st;
  }

  int version = 0;
  {
    absl::StatusOr<SqliteStmt> stmt = SqlitePrepare(h, "PRAGMA user_version");
    if (!stmt.ok()) return stmt.status();
    if (sqlite3_step(stmt->get()) == SQLITE_ROW) version = sqlite3_column_int(stmt->get(), 0);
  }
  if (version == 0 || version == 1) {
    absl::Status st = SqliteExec(h, "BEGIN IMMEDIATE");
    if (st.ok()) st = SqliteExec(h, version == 0 ? kCreateSchema : kMigrateFrom1);
    if (st.ok()) st = SqliteExec(h, "COMMIT");
    if (!st.ok()) {
      SqliteExec(h, "ROLLBACK").IgnoreError();
      return st;
    }
  } else if (version != kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("SQLite database '", path,
                                                      "' has schema version ", version,
                                                      "; this node knows ", kSchemaVersion));
  }
  if (absl::Status st = store->Prepare(); !st.ok()) return st;

  absl::StatusOr<SqliteStmt> last =
      SqlitePrepare(h, "SELECT COALESCE(MAX(position), 0) FROM events");
  if (!last.ok()) return last.status();
  int rc = sqlite3_step(last->get());
  if (rc != SQLITE_ROW) return SqliteError(h, rc, "reading the last position");
  store->last_position_.store(static_cast<uint64_t>(sqlite3_column_int64(last->get(), 0)));
  absl::StatusOr<std::unique_ptr<WalCheckpointer>> checkpointer = WalCheckpointer::Start(path, h);
  if (!checkpointer.ok()) return checkpointer.status();
  store->checkpointer_ = *std::move(checkpointer);
  return store;
}

absl::Status SqliteStore::Prepare() {
  struct {
    SqliteStmt* stmt;
    const char* sql;
  } statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&current_revision_,
       "SELECT last_revision, metadata, tombstoned FROM streams WHERE stream = ?1"},
      {&position_of_, "SELECT position FROM events WHERE stream = ?1 AND revision = ?2"},
      {&insert_event_,
       "INSERT INTO events(position, stream, revision, event_id, event_type, content_type, data,"
       " metadata, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
      {&set_revision_,
       "INSERT INTO streams(stream, last_revision) VALUES(?1, ?2)"
       " ON CONFLICT(stream) DO UPDATE SET last_revision = excluded.last_revision"},
      {&set_metadata_,
       "INSERT INTO streams(stream, last_revision, metadata) VALUES(?1, -1, ?2)"
       " ON CONFLICT(stream) DO UPDATE SET metadata = excluded.metadata"},
      {&set_tombstone_,
       "INSERT INTO streams(stream, last_revision, tombstoned) VALUES(?1, -1, 1)"
       " ON CONFLICT(stream) DO UPDATE SET tombstoned = 1"},
  };
  for (auto& [stmt, sql] : statements) {
    absl::StatusOr<SqliteStmt> prepared = SqlitePrepare(db_.get(), sql);
    if (!prepared.ok()) return prepared.status();
    *stmt = *std::move(prepared);
  }
  return absl::OkStatus();
}

absl::StatusOr<StreamInfo> SqliteStore::CurrentInfo(const std::string& stream) {
  sqlite3_stmt* stmt = current_revision_.get();
  StmtReset reset(stmt);
  BindText(stmt, 1, stream);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return StreamInfo{};
  if (rc != SQLITE_ROW) return SqliteError(db_.get(), rc, "reading a stream's revision");
  return StreamInfoRow(stmt, stream);
}

absl::StatusOr<uint64_t> SqliteStore::PositionOf(const std::string& stream, int64_t revision) {
  sqlite3_stmt* stmt = position_of_.get();
  StmtReset reset(stmt);
  BindText(stmt, 1, stream);
  sqlite3_bind_int64(stmt, 2, revision);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return SqliteError(db_.get(), rc, "reading an event's position");
  return static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
}

absl::StatusOr<std::vector<AppendOutcome>> SqliteStore::AppendInTransaction(
    const std::vector<StreamAppend>& appends, uint64_t* next_position) {
  std::vector<AppendOutcome> outcomes;
  outcomes.reserve(appends.size());
  for (const StreamAppend& append : appends) {
    absl::StatusOr<StreamInfo> current = CurrentInfo(append.stream);
    if (!current.ok()) return current.status();
    if (absl::Status st = CheckStreamWrite(append.stream, *current, append.expected_revision);
        !st.ok()) {
      return st;
    }
    int64_t revision = current->last_revision;
    uint64_t last_position = 0;
    for (const NewEvent& event : append.events) {
      ++revision;
      last_position = (*next_position)++;
      sqlite3_stmt* stmt = insert_event_.get();
      sqlite3_bind_int64(stmt, 1, static_cast<sqlite3_int64>(last_position));
      BindText(stmt, 2, append.stream);
      sqlite3_bind_int64(stmt, 3, revision);
      BindText(stmt, 4, event.event_id);
      BindText(stmt, 5, event.event_type);
      BindText(stmt, 6, event.content_type);
      BindBlob(stmt, 7, event.data);
      BindBlob(stmt, 8, event.metadata);
      sqlite3_bind_int64(stmt, 9, event.created_unix_us);
      if (absl::Status st = StepDone(db_.get(), stmt, "inserting an event"); !st.ok()) return st;
    }
    AppendOutcome outcome;
    if (!append.events.empty()) {
      sqlite3_stmt* stmt = set_revision_.get();
      BindText(stmt, 1, append.stream);
      sqlite3_bind_int64(stmt, 2, revision);
      if (absl::Status st = StepDone(db_.get(), stmt, "updating a stream"); !st.ok()) return st;
      outcome.last_revision = static_cast<uint64_t>(revision);
      outcome.last_position = last_position;
    } else if (revision >= 0) {
      absl::StatusOr<uint64_t> position = PositionOf(append.stream, revision);
      if (!position.ok()) return position.status();
      outcome.last_revision = static_cast<uint64_t>(revision);
      outcome.last_position = *position;
    } else {
      outcome.last_revision = kNoRevision;
    }
    outcomes.push_back(outcome);
  }
  return outcomes;
}

absl::Status SqliteStore::InTransaction(absl::string_view what,
                                        const std::function<absl::Status()>& body) {
  if (absl::Status st = StepDone(db_.get(), begin_.get(), absl::StrCat("beginning ", what));
      !st.ok()) {
    return st;
  }
  absl::Status st = body();
  if (st.ok()) st = StepDone(db_.get(), commit_.get(), absl::StrCat("committing ", what));
  if (!st.ok()) {
    // A failed COMMIT may or may not have rolled back by itself; make sure.
    if (!sqlite3_get_autocommit(db_.get())) {
      StepDone(db_.get(), rollback_.get(), absl::StrCat("rolling back ", what)).IgnoreError();
    }
  }
  return st;
}

absl::StatusOr<std::vector<AppendOutcome>> SqliteStore::Append(
    std::vector<StreamAppend> appends, std::vector<RecordedEvent>* written) {
  absl::MutexLock lock(&mu_);
  uint64_t next_position = last_position_.load() + 1;
  std::vector<AppendOutcome> outcomes;
  absl::Status st = InTransaction("an append", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    absl::StatusOr<std::vector<AppendOutcome>> written =
        AppendInTransaction(appends, &next_position);
    if (!written.ok()) return written.status();
    outcomes = *std::move(written);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (written != nullptr) {
    // Positions and revisions as AppendInTransaction gave them; the texts move, no copy.
    uint64_t position = last_position_.load() + 1;
    for (size_t i = 0; i < appends.size(); ++i) {
      const size_t count = appends[i].events.size();
      uint64_t revision = outcomes[i].last_revision + 1 - count;
      for (NewEvent& event : appends[i].events) {
        RecordedEvent& e = written->emplace_back();
        e.position = position++;
        e.stream = appends[i].stream;
        e.revision = revision++;
        e.event_id = std::move(event.event_id);
        e.event_type = std::move(event.event_type);
        e.content_type = std::move(event.content_type);
        e.data = std::move(event.data);
        e.metadata = std::move(event.metadata);
        e.created_unix_us = event.created_unix_us;
      }
    }
  }
  last_position_.store(next_position - 1);
  return outcomes;
}

absl::Status SqliteStore::DeleteStream(const std::string& stream, int64_t expected_revision,
                                       bool tombstone) {
  absl::MutexLock lock(&mu_);
  return InTransaction("a stream deletion", [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    absl::StatusOr<StreamInfo> info = CurrentInfo(stream);
    if (!info.ok()) return info.status();
    if (absl::Status st = CheckStreamWrite(stream, *info, expected_revision); !st.ok()) return st;
    if (tombstone) {
      sqlite3_stmt* stmt = set_tombstone_.get();
      BindText(stmt, 1, stream);
      return StepDone(db_.get(), stmt, "tombstoning a stream");
    }
    if (info->last_revision < 0) return absl::OkStatus();
    StreamMetadata deleted =
        WithTruncateBefore(info->metadata, static_cast<uint64_t>(info->last_revision) + 1);
    sqlite3_stmt* stmt = set_metadata_.get();
    BindText(stmt, 1, stream);
    BindText(stmt, 2, deleted.json);
    return StepDone(db_.get(), stmt, "soft-deleting a stream");
  });
}

absl::Status SqliteStore::SetStreamMetadata(const std::string& stream,
                                            const StreamMetadata& metadata) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = set_metadata_.get();
  BindText(stmt, 1, stream);
  BindText(stmt, 2, metadata.json);
  return StepDone(db_.get(), stmt, "setting stream metadata");
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogStore>> OpenSqliteStore(const std::string& path,
                                                          SqliteStoreOptions options) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<LogStore>(*std::move(store));
}

}  // namespace esdb::devnode
