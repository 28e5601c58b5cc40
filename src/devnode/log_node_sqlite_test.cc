// What only the SQLite log promises: durability across close, reopen and SIGKILL, its schema,
// and readers that never hold the database while callbacks run.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "devnode/log_node.h"
#include "devnode/log_node_test_util.h"
#include "devnode/node_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

using testing::AppendN;
using ::testing::ElementsAre;
using testing::Event;
using ::testing::HasSubstr;
using testing::Positions;
using testing::Recorder;
using testing::Revisions;
using ::testing::SizeIs;
using testing::SubscribeOptions;

class SqliteLogTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = testing::TempDbPath(); }
  void TearDown() override { testing::RemoveDb(path_); }

  std::unique_ptr<LogNode> Open(LogNodeOptions options = {}) {
    absl::StatusOr<std::unique_ptr<LogNode>> node = LogNode::OpenSqlite(path_, options);
    EXPECT_TRUE(node.ok()) << node.status();
    return node.ok() ? *std::move(node) : nullptr;
  }

  // Runs one SQL statement on a separate connection and returns the first column of the first
  // row as text ("" when there is none).
  std::string Query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  std::string path_;
};

TEST_F(SqliteLogTest, ReopenKeepsEverythingAndPositionsContinue) {
  {
    std::unique_ptr<LogNode> node = Open();
    ASSERT_NE(node, nullptr);
    AppendN(*node, "a", 3);
    AppendN(*node, "b", 2);
    ASSERT_TRUE(node->SetStreamMetadata("a", R"({"$maxCount":2})").ok());
    ASSERT_TRUE(node->SetStreamMetadata("only-meta", R"({"k":"v"})").ok());
  }
  std::unique_ptr<LogNode> node = Open();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->LastPosition(), 5u);
  auto all = node->ReadAll(ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Positions(*all), ElementsAre(1, 2, 3, 4, 5));
  auto a = node->ReadStream("a", ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(Revisions(*a), ElementsAre(1, 2));  // $maxCount survived too
  EXPECT_EQ(*node->GetStreamMetadata("only-meta"), R"({"k":"v"})");

  auto conflict = node->Append("b", ESDB_EXPECT_NO_STREAM, {Event("x")});
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  auto next = node->Append("b", 1, {Event("x")});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->next_expected_revision, 2u);
  EXPECT_EQ(next->position, 6u);
}

TEST_F(SqliteLogTest, CommittedAppendsSurviveSigkill) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // No gtest assertions here: report through the exit status, or die by SIGKILL as planned.
    absl::StatusOr<std::unique_ptr<LogNode>> node = LogNode::OpenSqlite(path_);
    if (!node.ok()) _exit(2);
    for (int i = 0; i < 50; ++i) {
      if (!(*node)->Append("crash", i - 1, {Event("x")}).ok()) _exit(3);
    }
    raise(SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  std::unique_ptr<LogNode> node = Open();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->LastPosition(), 50u);
  auto events = node->ReadStream("crash", ReadDirection::kBackwards, ESDB_REVISION_END, 1);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->front().revision, 49u);
}

TEST_F(SqliteLogTest, UsesWalAndTheDocumentedSchema) {
  {
    std::unique_ptr<LogNode> node = Open(LogNodeOptions{.sqlite_full_sync = true});
    ASSERT_NE(node, nullptr);
    AppendN(*node, "s", 2);
    EXPECT_EQ(Query("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(Query("SELECT COUNT(*) FROM events"), "2");
    EXPECT_EQ(Query("SELECT last_revision FROM streams WHERE stream = 's'"), "1");
  }
  EXPECT_EQ(Query("PRAGMA user_version"), "2");
  EXPECT_EQ(Query("SELECT tombstoned FROM streams WHERE stream = 's'"), "0");
  // The unique (stream, revision) index stops a second event at the same revision.
  EXPECT_EQ(Query("INSERT INTO events VALUES(3, 's', 1, 'id', 't', 'c', x'', x'', 0) RETURNING 1"),
            "");
  EXPECT_EQ(Query("INSERT INTO events VALUES(3, 's', 2, 'id', 't', 'c', x'', x'', 0) RETURNING 1"),
            "1");
  EXPECT_EQ(Query("SELECT COUNT(*) FROM events"), "3");
}

TEST_F(SqliteLogTest, MigratesAVersion1FileAndKeepsItsEvents) {
  // The version 1 schema, as the first dev node wrote it.
  Query(
      "CREATE TABLE events(position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER "
      "NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, content_type TEXT NOT NULL, "
      "data BLOB NOT NULL, metadata BLOB NOT NULL, created INTEGER NOT NULL)");
  Query("CREATE UNIQUE INDEX events_by_stream ON events(stream, revision)");
  Query(
      "CREATE TABLE streams(stream TEXT PRIMARY KEY, last_revision INTEGER NOT NULL, metadata "
      "TEXT NOT NULL DEFAULT '{}') WITHOUT ROWID");
  Query(
      "INSERT INTO events VALUES(1, 'old', 0, '0f8fad5b-d9cb-469f-a165-70867728950e', 't', "
      "'application/json', x'7b7d', x'', 0)");
  Query("INSERT INTO streams(stream, last_revision) VALUES('old', 0)");
  Query("PRAGMA user_version = 1");
  {
    std::unique_ptr<LogNode> node = Open();
    ASSERT_NE(node, nullptr);
    absl::StatusOr<std::vector<RecordedEvent>> events =
        node->ReadStream("old", ReadDirection::kForwards, 0, 10);
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_THAT(Revisions(*events), ElementsAre(0));
    ASSERT_TRUE(node->TombstoneStream("old", ESDB_EXPECT_ANY).ok());
  }
  EXPECT_EQ(Query("PRAGMA user_version"), "2");
  EXPECT_EQ(Query("SELECT tombstoned FROM streams WHERE stream = 'old'"), "1");
  // The tombstone survives a restart.
  std::unique_ptr<LogNode> node = Open();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(ToNodeStatus(node->ReadStream("old", ReadDirection::kForwards, 0, 10).status()),
            ESDB_NODE_STREAM_DELETED);
}

TEST_F(SqliteLogTest, RefusesAnUnknownSchemaVersion) {
  Query("PRAGMA user_version = 7");
  absl::StatusOr<std::unique_ptr<LogNode>> node = LogNode::OpenSqlite(path_);
  ASSERT_FALSE(node.ok());
  EXPECT_THAT(node.status().message(), HasSubstr("schema version 7"));
}

TEST_F(SqliteLogTest, OpeningAnUnwritablePathFails) {
  absl::StatusOr<std::unique_ptr<LogNode>> node =
      LogNode::OpenSqlite("/nonexistent-dir/esdb/log.db");
  EXPECT_FALSE(node.ok());
}

// A catch-up read stops at some 4 MiB of events, whatever the read batch: large events would
// otherwise be read (and copied by the callback) hundreds of megabytes at a time.
TEST_F(SqliteLogTest, ACatchUpReadHoldsAFewMegabytesOfLargeEventsAtMost) {
  std::unique_ptr<LogNode> node = Open(LogNodeOptions{.read_batch = 512});
  ASSERT_NE(node, nullptr);
  const std::string pad(512 << 10, 'x');
  for (int i = 0; i < 60; ++i) {
    auto r = node->Append("big", ESDB_EXPECT_ANY,
                          {Event("Big", absl::StrCat(R"({"n":)", i, R"(,"pad":")", pad, R"("})"))});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(node->api(), SubscribeOptions());
  ASSERT_TRUE(recorder.WaitForEventCount(60));
  size_t most = 0;
  for (const Recorder::Call& call : recorder.calls()) {
    if (call.kind != Recorder::Call::kEvents) continue;
    size_t bytes = 0;
    for (const RecordedEvent& e : call.events) bytes += e.ByteSize();
    most = std::max(most, bytes);
  }
  // The first read asks for 32 events (16 MiB), the next ones for more.
  EXPECT_LE(most, (size_t{4} << 20) + pad.size() + 1024);
  const std::vector<uint64_t> positions = Positions(recorder.events());
  EXPECT_EQ(positions.size(), 60u);
  EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  node->api()->unsubscribe_all(node->api()->ctx, sub);
}

TEST_F(SqliteLogTest, BlockedSubscriberHoldsNoReadTransaction) {
  std::unique_ptr<LogNode> node = Open(LogNodeOptions{.read_batch = 8});
  ASSERT_NE(node, nullptr);
  AppendN(*node, "a", 20);
  Recorder recorder;
  recorder.BlockEvents();
  esdb_subscription* sub = recorder.Subscribe(node->api(), SubscribeOptions());
  ASSERT_TRUE(recorder.WaitUntilBlocked());
  // A full checkpoint must wait for every reader's snapshot; it completes (busy = 0) only if the
  // blocked subscriber's connection holds none.
  AppendN(*node, "a", 5);
  EXPECT_EQ(Query("PRAGMA wal_checkpoint(TRUNCATE)"), "0");
  recorder.Release();
  ASSERT_TRUE(recorder.WaitForEventCount(25));
  node->api()->unsubscribe_all(node->api()->ctx, sub);
}

TEST_F(SqliteLogTest, LargeBatchIsOneTransaction) {
  std::unique_ptr<LogNode> node = Open();
  ASSERT_NE(node, nullptr);
  std::vector<StreamEvents> batch;
  for (int s = 0; s < 100; ++s) {
    StreamEvents entry{"bulk-" + std::to_string(s), ESDB_EXPECT_NO_STREAM, {}};
    for (int i = 0; i < 100; ++i) entry.events.push_back(Event("x", R"({"n":1})"));
    batch.push_back(std::move(entry));
  }
  auto results = node->AppendBatch(std::move(batch));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_THAT(*results, SizeIs(100));
  EXPECT_EQ(results->back().position, 10000u);
  EXPECT_EQ(node->LastPosition(), 10000u);
  EXPECT_EQ(Query("SELECT COUNT(*) FROM events"), "10000");
}

// The WAL is copied back often enough that it stays short while appends go on: 6,000 one-event
// commits (two or three WAL pages each) would make a WAL of some 60 MB if nothing copied it back.
TEST_F(SqliteLogTest, TheWalStaysShortWhileAppendsGoOn) {
  std::unique_ptr<LogNode> node = Open();
  ASSERT_NE(node, nullptr);
  for (int i = 0; i < 6000; ++i) AppendN(*node, "s-" + std::to_string(i % 50), 1);
  std::error_code ec;
  const uintmax_t wal = std::filesystem::file_size(path_ + "-wal", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_LT(wal, 24u << 20) << "WAL of " << wal << " bytes";
  EXPECT_EQ(Query("SELECT COUNT(*) FROM events"), "6000");
}

// The copy is made by the node's background thread, not by a commit: past 1,000 WAL pages a
// commit only asks for a pass (it copies the WAL itself only past 2,000), so once the appends stop
// just past 1,000 pages, whatever is copied back was copied by that thread. How much has been is
// the wal-index's nBackfill (https://www.sqlite.org/walformat.html: the 32-bit word at byte 96
// of the -shm file, after the two 48-byte copies of its header).
TEST_F(SqliteLogTest, TheWalIsCopiedBackByTheBackgroundThreadBetweenAppends) {
  std::unique_ptr<LogNode> node = Open();
  ASSERT_NE(node, nullptr);
  const uintmax_t page = std::stoull(Query("PRAGMA page_size"));
  auto wal_bytes = [&] {
    std::error_code ec;
    uintmax_t size = std::filesystem::file_size(path_ + "-wal", ec);
    return ec ? 0 : size;
  };
  auto backfilled = [&] {
    std::ifstream shm(path_ + "-shm", std::ios::binary);
    uint32_t frames = 0;
    shm.seekg(96);
    shm.read(reinterpret_cast<char*>(&frames), sizeof frames);
    return shm ? frames : 0;
  };
  int commits = 0;
  while (wal_bytes() < 1000 * (page + 24) + 32) {  // a 32-byte header, 24 bytes per frame
    AppendN(*node, "s-" + std::to_string(commits % 50), 1);
    ASSERT_LT(++commits, 100000);
  }
  ASSERT_LT(wal_bytes(), 2000 * page) << "past the point where a commit copies the WAL itself";
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (backfilled() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_GT(backfilled(), 0u) << "no frame copied back after " << commits << " commits";
  EXPECT_EQ(Query("SELECT COUNT(*) FROM events"), std::to_string(commits));
}

}  // namespace
}  // namespace esdb::devnode
