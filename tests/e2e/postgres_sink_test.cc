// postgres-sink through the real dev node: 50,000 events delivered into a throwaway PostgreSQL
// 15 while the dev node is SIGKILLed 10 times and restarted. The host checkpoints only every
// 5,000 records, so after each kill it resends up to that many records the sink had already
// committed. The statement is a plain INSERT into a table without a key: a record applied twice
// would be a second row. At the end the table must hold every event exactly once, applied in
// log order. A reset through the API applies the events again (a new epoch).
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "pg_test_server.h"

namespace esdb::e2e {
namespace {

constexpr int kEvents = 50000;
constexpr int kEventsPerAppend = 2000;
constexpr int kStreams = 5;
constexpr int kKills = 10;
constexpr uint32_t kIdTag = 0x9051u;

class PostgresSinkE2eTest : public DevnodeTest {};

TEST_F(PostgresSinkE2eTest, TenSigkillsOfTheNodeLeaveEveryEventOnceInOrder) {
  pgtest::PgServer pg;
  ASSERT_TRUE(pg.ok());
  pgtest::Db db(pg.ConnectionString());
  db.Exec("CREATE TABLE delivered (position bigint, stream text, revision bigint, n bigint)");

  uint64_t last_position = 0;
  for (int a = 0; a < kEvents / kEventsPerAppend; ++a) {
    Reply r = AppendEvents(http(), absl::StrCat("pg-", a % kStreams),
                           MakeEvents(kIdTag, static_cast<uint64_t>(a) * kEventsPerAppend,
                                      kEventsPerAppend, "Placed"));
    ASSERT_EQ(r.status, 201) << r.body;
    last_position = r.json["position"].get<uint64_t>();
  }
  nlohmann::json settings = {
      {"instanceTypeName", "postgres-sink"},
      {"connectionString", pg.ConnectionString()},
      {"mode", "statements"},
      {"statement:*",
       "INSERT INTO delivered VALUES ($position, $stream, $revision, $data.n::bigint)"},
      {"subscription:initialPosition", "earliest"},
      {"subscription:filter:scope", "stream"},
      {"subscription:filter:filterType", "prefix"},
      {"subscription:filter:expression", "pg-"},
      {"batching:batchSize", "500"},
      {"autocommit:recordsThreshold", "5000"}};
  Reply created = http().Post("/connectors/pg-once", nlohmann::json{{"settings", settings}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(http().Post("/connectors/pg-once/enable").status, 200);

  auto rows = [&] { return std::stoll(db.One("SELECT count(*) FROM delivered")); };
  for (int k = 1; k <= kKills; ++k) {
    // Kill once the sink has gone past another 4,000 rows, while it is delivering more.
    const long long target = std::min<long long>(k * 4000LL, kEvents - 1);
    ASSERT_TRUE(
        WaitUntil([&] { return rows() >= target; }, absl::Seconds(120), absl::Milliseconds(2)))
        << "delivery stalled before kill " << k << " at " << rows() << " rows";
    http_.reset();
    auto killed = node().Kill();
    ASSERT_TRUE(killed.ok()) << killed.status();
    ASSERT_EQ(killed->signal, SIGKILL) << killed->ToString();
    ASSERT_NO_FATAL_FAILURE(StartNode());
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        return db.One(
                   "SELECT commit_position FROM esdb_sink_positions "
                   "WHERE connector_id = 'pg-once'") == std::to_string(last_position);
      },
      absl::Seconds(120)))
      << "not everything was delivered: " << rows()
      << " rows; connector: " << http().Connector("pg-once").body;

  EXPECT_EQ(
      db.One("SELECT count(*), count(DISTINCT position), max(position), count(DISTINCT n), "
             "min(n), max(n) FROM delivered"),
      absl::StrCat(kEvents, "|", kEvents, "|", last_position, "|", kEvents, "|0|", kEvents - 1));
  // In log order: rows were only ever appended, so their physical order is the order applied.
  EXPECT_EQ(db.One("SELECT count(*) FROM (SELECT position, n, lag(position) OVER (ORDER BY ctid) "
                   "AS before, lag(n) OVER (ORDER BY ctid) AS n_before FROM delivered) s "
                   "WHERE before >= position OR n_before + 1 <> n"),
            "0");
  EXPECT_EQ(http().StateOf("pg-once"), "RUNNING");

  // The kills did make the host resend committed records (the sink logs each skip), so the
  // table's shape above is the sink's doing, not luck.
  int skips = 0;
  for (const auto& file : std::filesystem::directory_iterator(Path("node") / "logs")) {
    std::ifstream in(file.path());
    for (std::string line; std::getline(in, line);) {
      skips += line.find("already applied") != std::string::npos;
    }
  }
  EXPECT_GT(skips, 0);
}

// A reset through the management API starts a new epoch: the host delivers from the start of the
// log again, and the sink applies those events again although they are at or below the position
// it stored for the old epoch (the statement appends a row per application).
TEST_F(PostgresSinkE2eTest, AResetThroughTheApiAppliesTheEventsAgain) {
  pgtest::PgServer pg;
  ASSERT_TRUE(pg.ok());
  pgtest::Db db(pg.ConnectionString());
  db.Exec("CREATE TABLE replayed (position bigint, n bigint)");
  constexpr int kReplayEvents = 120;
  Reply appended =
      AppendEvents(http(), "replay-1", MakeEvents(kIdTag + 1, 0, kReplayEvents, "Placed"));
  ASSERT_EQ(appended.status, 201) << appended.body;
  const std::string last = std::to_string(appended.json["position"].get<uint64_t>());
  nlohmann::json settings = {
      {"instanceTypeName", "postgres-sink"},
      {"connectionString", pg.ConnectionString()},
      {"mode", "statements"},
      {"statement:*", "INSERT INTO replayed VALUES ($position, $data.n::bigint)"},
      {"subscription:initialPosition", "earliest"},
      {"subscription:filter:scope", "stream"},
      {"subscription:filter:filterType", "prefix"},
      {"subscription:filter:expression", "replay-"},
      {"batching:batchSize", "50"}};
  Reply created =
      http().Post("/connectors/pg-reset", nlohmann::json{{"settings", settings}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(http().Post("/connectors/pg-reset/enable").status, 200);
  auto stored = [&] {
    return db.One(
        "SELECT commit_position, generation, epoch FROM esdb_sink_positions "
        "WHERE connector_id = 'pg-reset'");
  };
  auto applied = [&] { return std::stoll(db.One("SELECT count(*) FROM replayed")); };
  // The rows and the position commit together: once the rows are there, so is the position.
  ASSERT_TRUE(WaitUntil([&] { return applied() >= kReplayEvents; }, absl::Seconds(60)))
      << applied() << " rows; connector: " << http().Connector("pg-reset").body;
  const std::string before = stored();
  EXPECT_TRUE(before.starts_with(last + "|")) << before;
  EXPECT_EQ(applied(), kReplayEvents);

  ASSERT_EQ(http().Post("/connectors/pg-reset/disable").status, 200);
  ASSERT_TRUE(WaitForState("pg-reset", "STOPPED"));
  Reply reset = http().Post("/connectors/pg-reset/reset");
  ASSERT_EQ(reset.status, 200) << reset.body;
  ASSERT_EQ(http().Post("/connectors/pg-reset/enable").status, 200);
  ASSERT_TRUE(WaitUntil([&] { return applied() >= 2 * kReplayEvents && stored() != before; },
                        absl::Seconds(60)))
      << applied() << " rows; " << stored() << "; connector: " << http().Connector("pg-reset").body;
  // Each event twice: once per epoch, never more.
  EXPECT_EQ(db.Rows("SELECT DISTINCT count(*) FROM replayed GROUP BY position"),
            std::vector<std::string>{"2"});
  EXPECT_EQ(applied(), 2 * kReplayEvents);
  // The same position, stored now for the new epoch of the same generation.
  std::vector<std::string> old_row = absl::StrSplit(before, '|');
  std::vector<std::string> new_row = absl::StrSplit(stored(), '|');
  ASSERT_EQ(new_row.size(), 3u);
  EXPECT_EQ(new_row[0], last);
  EXPECT_EQ(new_row[1], old_row[1]);
  EXPECT_GT(std::stoll(new_row[2]), std::stoll(old_row[2]));
  EXPECT_EQ(http().StateOf("pg-reset"), "RUNNING");
}

}  // namespace
}  // namespace esdb::e2e
