// postgres-sink (plugins/postgres) through the loader against a real PostgreSQL 15 server that
// the test starts in a temporary folder (Unix socket only, no TCP port): rows and types in
// append mode, a read model built with upserts in statements mode, effectively-once delivery
// across re-opens, a SIGKILLed sink process and a database restart, and the error classes.
// The server: pg_test_server.h.
#include <libpq-fe.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_test_server.h"
#include "sinks/plugin.h"
#include "sinks/test_support.h"
#include "statement_template.h"

namespace esdb {
namespace {

using ::esdb::testing::LoadOrFail;
using ::esdb::testing::LogCapture;
using ::esdb::testing::MakeRecord;
using ::esdb::testing::PluginPath;
using ::esdb::testing::TempDir;
using ::esdb_postgres_sink::CompileStatement;
using ::esdb_postgres_sink::Field;
using ::esdb_postgres_sink::StatementTemplate;
using ::testing::HasSubstr;
using ::testing::Not;

using ::esdb::pgtest::Db;
using ::esdb::pgtest::PgServer;

class PostgresSinkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new PgServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << "the PostgreSQL test server did not start";
    plugin_ = LoadOrFail(PluginPath("postgres"));
    ASSERT_NE(plugin_, nullptr);
    db_ = std::make_unique<Db>(server_->ConnectionString());
  }

  absl::StatusOr<std::unique_ptr<Sink>> TryOpenAs(const SinkContext& context,
                                                  SettingsMap settings) {
    settings.emplace("connectionString", server_->ConnectionString());
    return plugin_->Open(context, settings, log_.Fn());
  }
  absl::StatusOr<std::unique_ptr<Sink>> TryOpen(const std::string& connector,
                                                SettingsMap settings) {
    return TryOpenAs(SinkContext{.connector_id = connector}, std::move(settings));
  }
  // Opens an instance of one delivery history of the connector (its generation and epoch).
  std::unique_ptr<Sink> OpenAs(const SinkContext& context, SettingsMap settings = {}) {
    auto sink = TryOpenAs(context, std::move(settings));
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }
  std::unique_ptr<Sink> Open(const std::string& connector, SettingsMap settings = {}) {
    auto sink = TryOpen(connector, std::move(settings));
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }

  // Records at positions 1..n (as on the dev node) over three streams.
  static std::vector<Record> Log(int n, const std::string& type = "Placed") {
    std::vector<Record> log;
    for (int i = 1; i <= n; ++i) {
      log.push_back(MakeRecord(absl::StrCat("orders-", i % 3), (i - 1) / 3, i, type,
                               absl::StrCat(R"({"i":)", i, "}")));
    }
    return log;
  }

  // Writes log[from, to) in batches of `batch`, expecting OK for each.
  static void WriteAll(Sink& sink, const std::vector<Record>& log, size_t from, size_t to,
                       size_t batch) {
    for (size_t at = from; at < to; at += batch) {
      std::span<const Record> part(log.data() + at, std::min(batch, to - at));
      SinkResult r = sink.Write(part);
      ASSERT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
    }
  }

  // An instance of an older history than the stored position's: its write applies nothing and
  // is RETRY.
  void ExpectStale(const SinkContext& stale, const SettingsMap& settings,
                   const std::string& history) {
    auto sink = OpenAs(stale, settings);
    ASSERT_NE(sink, nullptr);
    std::vector<Record> more = Log(25);
    SinkResult r = sink->Write(std::span<const Record>(more).subspan(18));
    EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
    EXPECT_THAT(r.message, HasSubstr("belongs to a later history than this instance's " + history));
  }

  // The positions in `table`, in position order, and whether each appears once.
  std::vector<std::string> Positions(const std::string& table) {
    return db_->Rows("SELECT position FROM " + table + " ORDER BY position");
  }
  static std::vector<std::string> OneTo(int n) {
    std::vector<std::string> out;
    for (int i = 1; i <= n; ++i) out.push_back(std::to_string(i));
    return out;
  }

  static PgServer* server_;
  std::unique_ptr<SinkPlugin> plugin_;
  std::unique_ptr<Db> db_;
  LogCapture log_;
};

PgServer* PostgresSinkTest::server_ = nullptr;

// ---- the statement translation (pure) ----

TEST(PostgresStatementTest, NamedParametersBecomeNumberedOnes) {
  StatementTemplate t;
  ASSERT_EQ(CompileStatement("INSERT INTO t VALUES ($stream, $data.customer.id::int, $position, "
                             "$stream, $metadata.tenant)",
                             t),
            "");
  EXPECT_EQ(t.sql, "INSERT INTO t VALUES ($1, $2::int, $3, $1, $4)");
  ASSERT_EQ(t.parameters.size(), 4u);
  EXPECT_EQ(t.parameters[0].field, Field::kStream);
  EXPECT_EQ(t.parameters[1].field, Field::kDataPath);
  EXPECT_EQ(t.parameters[1].path, (std::vector<std::string>{"customer", "id"}));
  EXPECT_EQ(t.parameters[2].field, Field::kPosition);
  EXPECT_EQ(t.parameters[3].field, Field::kMetadataPath);
}

TEST(PostgresStatementTest, LiteralsCommentsAndDollarQuotesAreLeftAlone) {
  StatementTemplate t;
  std::string sql =
      "SELECT '$stream', \"$col\", $$ $stream $$, $f$ $data $f$, a$b, E'\\'$x' -- $revision\n"
      ", /* $eventId */ $eventId";
  ASSERT_EQ(CompileStatement(sql, t), "");
  EXPECT_EQ(t.sql,
            "SELECT '$stream', \"$col\", $$ $stream $$, $f$ $data $f$, a$b, E'\\'$x' -- "
            "$revision\n, /* $eventId */ $1");
  ASSERT_EQ(t.parameters.size(), 1u);
  EXPECT_EQ(t.parameters[0].field, Field::kEventId);
}

TEST(PostgresStatementTest, BadTemplatesAreRefusedWithTheReason) {
  StatementTemplate t;
  EXPECT_THAT(CompileStatement("SELECT $1", t), HasSubstr("positional"));
  EXPECT_THAT(CompileStatement("SELECT $nope", t), HasSubstr("unknown parameter $nope"));
  EXPECT_THAT(CompileStatement("SELECT 'open", t), HasSubstr("unterminated string"));
  EXPECT_THAT(CompileStatement("SELECT $$ open", t), HasSubstr("unterminated dollar"));
  EXPECT_THAT(CompileStatement("SELECT /* open", t), HasSubstr("unterminated comment"));
  EXPECT_THAT(CompileStatement("SELECT $ 1", t), HasSubstr("not followed by a parameter"));
}

// ---- settings ----

TEST_F(PostgresSinkTest, ValidateExplainsBadSettingsWithoutEchoingThePassword) {
  auto check = [&](SettingsMap settings) { return plugin_->Validate(settings); };
  EXPECT_TRUE(check({{"connectionString", server_->ConnectionString()}}).ok());
  EXPECT_TRUE(check({{"connectionString", "postgresql://u:pw@db.example:5433/app"}}).ok());
  EXPECT_THAT(check({}).message(), HasSubstr("connectionString"));

  absl::Status bad = check({{"connectionString", "host=db password='s3cr3t"}});
  EXPECT_THAT(bad.message(), HasSubstr("connectionString: not a libpq connection string"));
  EXPECT_THAT(bad.message(), Not(HasSubstr("s3cr3t")));
  bad = check({{"connectionString", "host=db bogus=s3cr3t"}});
  EXPECT_THAT(bad.message(), HasSubstr("connectionString"));
  EXPECT_THAT(bad.message(), Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(check({{"connectionString", "host=db sslkey=/etc/shadow"}}).message(),
              HasSubstr("'sslkey' is not allowed"));
  EXPECT_THAT(check({{"connectionString", "host=db"}, {"mode", "statements"}}).message(),
              HasSubstr("needs at least one statement"));
  EXPECT_THAT(check({{"connectionString", "host=db"}, {"statement:A", "SELECT 1"}}).message(),
              HasSubstr("only with mode=statements"));
  EXPECT_THAT(
      check(
          {{"connectionString", "host=db"}, {"mode", "statements"}, {"statement:A", "SELECT $who"}})
          .message(),
      HasSubstr("statement:A: unknown parameter $who"));
  EXPECT_THAT(check({{"connectionString", "host=db"}, {"table", std::string(64, 't')}}).message(),
              HasSubstr("table: longer than 63 bytes"));
  EXPECT_THAT(check({{"connectionString", "host=db"}, {"schema", "a\nb"}}).message(),
              HasSubstr("schema: contains a control character"));
}

// ---- append mode ----

TEST_F(PostgresSinkTest, AppendModeCreatesTheTableAndWritesOneTypedRowPerEvent) {
  auto sink = Open("conn-append", {{"table", "append_events"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(7);
  log[1].metadata = R"({"tenant":"acme"})";
  log[2].content_type = "application/octet-stream";
  log[2].data = std::string("\x00\x01\xff", 3);
  log[3].data = "not json";  // declared JSON but is not: kept as bytes
  log[4].metadata = "plain text";
  log[5].stream = "it's \"quoted\"";
  WriteAll(*sink, log, 0, log.size(), 3);

  EXPECT_EQ(Positions("append_events"), OneTo(7));
  EXPECT_EQ(db_->One("SELECT position, prepare_position, stream, revision, event_id, event_type, "
                     "content_type, data->>'i', data_bytes, metadata, created "
                     "FROM append_events WHERE position = 1"),
            "1|1|orders-1|0|0c7d2f4e-1b2a-4c3d-9e8f-102030405060|Placed|application/json|1|"
            "NULL|NULL|2024-05-01 12:30:05.00025+00");
  EXPECT_EQ(db_->One("SELECT metadata->>'tenant' FROM append_events WHERE position = 2"), "acme");
  EXPECT_EQ(db_->One("SELECT data, encode(data_bytes, 'hex') FROM append_events "
                     "WHERE position = 3"),
            "NULL|0001ff");
  EXPECT_EQ(db_->One("SELECT convert_from(data_bytes, 'UTF8') FROM append_events "
                     "WHERE position = 4"),
            "not json");
  EXPECT_EQ(db_->One("SELECT metadata, convert_from(metadata_bytes, 'UTF8') FROM append_events "
                     "WHERE position = 5"),
            "NULL|plain text");
  EXPECT_EQ(db_->One("SELECT stream FROM append_events WHERE position = 6"), "it's \"quoted\"");
  EXPECT_EQ(db_->One("SELECT pg_typeof(data), pg_typeof(created) FROM append_events LIMIT 1"),
            "jsonb|timestamp with time zone");
  EXPECT_EQ(db_->One("SELECT commit_position, prepare_position FROM esdb_sink_positions "
                     "WHERE connector_id = 'conn-append'"),
            "7|7");
}

TEST_F(PostgresSinkTest, AppendModeInsertsLargeBatchesInOneTransaction) {
  auto sink = Open("conn-large", {{"table", "large_events"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(2500);
  // About 2.6 MB of COPY data: handed to libpq in pieces, one COPY, one transaction.
  for (Record& r : log) {
    r.data = absl::StrCat(R"({"pad":")", std::string(1000, 'p'), R"(","i":)", r.position.commit,
                          "}");
  }
  WriteAll(*sink, log, 0, log.size(), 2500);
  EXPECT_EQ(Positions("large_events"), OneTo(2500));
  EXPECT_EQ(db_->One("SELECT count(*), sum((data->>'i')::bigint) FROM large_events "
                     "WHERE length(data->>'pad') = 1000"),
            "2500|3126250");
}

// ---- statements mode ----

TEST_F(PostgresSinkTest, StatementsModeBuildsAReadModelWithUpserts) {
  db_->Exec(
      "CREATE TABLE orders (id text PRIMARY KEY, customer text, total numeric, "
      "shipped boolean NOT NULL DEFAULT false, version bigint, last_position bigint)");
  db_->Exec("CREATE TABLE audit (position bigint, event_type text, stream text)");
  auto sink =
      Open("conn-orders",
           {{"mode", "statements"},
            {"statement:OrderPlaced",
             "INSERT INTO orders (id, customer, total, version, last_position) "
             "VALUES ($data.id, $data.customer.name, $data.total::numeric, $revision, $position) "
             "ON CONFLICT (id) DO UPDATE SET customer = EXCLUDED.customer, total = EXCLUDED.total, "
             "version = EXCLUDED.version, last_position = EXCLUDED.last_position"},
            {"statement:OrderShipped",
             "UPDATE orders SET shipped = true, last_position = $position WHERE id = $data.id"},
            {"statement:*", "INSERT INTO audit VALUES ($position, $eventType, $stream)"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = {
      MakeRecord("order-a", 0, 1, "OrderPlaced",
                 R"({"id":"a","customer":{"name":"Ann"},"total":10.5})"),
      MakeRecord("order-b", 0, 2, "OrderPlaced",
                 R"({"id":"b","customer":{"name":"x'); DROP TABLE orders; --"},"total":3})"),
      MakeRecord("order-a", 1, 3, "OrderPlaced",
                 R"({"id":"a","customer":{"name":"Ann B."},"total":12})"),
      MakeRecord("order-a", 2, 4, "OrderShipped", R"({"id":"a"})"),
      MakeRecord("order-c", 0, 5, "OrderPlaced", R"({"id":"c","total":1})"),  // no customer
      MakeRecord("misc", 0, 6, "SomethingElse", "{}"),
  };
  WriteAll(*sink, log, 0, log.size(), 4);
  EXPECT_EQ(db_->Rows("SELECT id, customer, total, shipped, version, last_position FROM orders "
                      "ORDER BY id"),
            (std::vector<std::string>{"a|Ann B.|12|t|1|4", "b|x'); DROP TABLE orders; --|3|f|0|2",
                                      "c|NULL|1|f|0|5"}));
  EXPECT_EQ(db_->Rows("SELECT * FROM audit"), (std::vector<std::string>{"6|SomethingElse|misc"}));
}

// ---- effectively once ----

TEST_F(PostgresSinkTest, RecordsResentAfterALostAcknowledgementAreNotAppliedAgain) {
  std::vector<Record> log = Log(50);
  {
    auto sink = Open("conn-once", {{"table", "once_events"}});
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 0, 30, 10);
    // The host crashed here: batches up to position 30 were committed, but its checkpoint says
    // 10, so the next instance receives 11.. again, in batches cut differently.
  }
  auto sink = Open("conn-once", {{"table", "once_events"}});
  ASSERT_NE(sink, nullptr);
  WriteAll(*sink, log, 10, 50, 7);
  EXPECT_EQ(Positions("once_events"), OneTo(50));
  // A batch entirely at or below the stored position is acknowledged without touching anything.
  WriteAll(*sink, log, 0, 50, 50);
  EXPECT_EQ(Positions("once_events"), OneTo(50));
  EXPECT_EQ(db_->One("SELECT commit_position FROM esdb_sink_positions "
                     "WHERE connector_id = 'conn-once'"),
            "50");
}

// A reset or an enable from a position starts a new epoch, a delete and re-create of the id a new
// generation: delivery restarts from the new history's start, and the position stored by the
// old history no longer says what is applied. The statement appends a row per application, so
// a record applied twice shows twice.
TEST_F(PostgresSinkTest, ANewEpochOrGenerationAppliesRecordsAtOrBelowTheOldPositionAgain) {
  db_->Exec("CREATE TABLE histories (position bigint, stream text)");
  SettingsMap settings = {{"mode", "statements"},
                          {"statement:*", "INSERT INTO histories VALUES ($position, $stream)"}};
  auto applied = [&] { return db_->One("SELECT count(*) FROM histories"); };
  auto stored = [&] {
    return db_->One(
        "SELECT commit_position, generation, epoch FROM esdb_sink_positions "
        "WHERE connector_id = 'conn-history'");
  };
  std::vector<Record> log = Log(20);
  {
    auto sink = OpenAs({.connector_id = "conn-history", .generation = 0, .epoch = 1}, settings);
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 0, 20, 5);
  }
  EXPECT_EQ(applied(), "20");
  EXPECT_EQ(stored(), "20|0|1");
  {
    // The same history (a restart, a move to another node): resent records are skipped.
    auto sink = OpenAs({.connector_id = "conn-history", .generation = 0, .epoch = 1}, settings);
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 5, 20, 5);
  }
  EXPECT_EQ(applied(), "20");
  {
    // Reset to position 10: epoch 2 delivers 11.. again, and they are applied again.
    auto sink = OpenAs({.connector_id = "conn-history", .generation = 0, .epoch = 2}, settings);
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 10, 20, 4);
  }
  EXPECT_EQ(applied(), "30");
  EXPECT_EQ(stored(), "20|0|2");
  EXPECT_EQ(db_->Rows("SELECT DISTINCT count(*) FROM histories WHERE position > 10 "
                      "GROUP BY position"),
            std::vector<std::string>{"2"});
  EXPECT_THAT(absl::StrJoin(log_.Messages(), "\n"), HasSubstr("belongs to an earlier history"));
  ExpectStale({.connector_id = "conn-history", .generation = 0, .epoch = 1}, settings,
              "(generation 0, epoch 1)");
  EXPECT_EQ(applied(), "30");
  {
    // Deleted and created again under the same id: generation 1, whose epochs start afresh.
    auto sink = OpenAs({.connector_id = "conn-history", .generation = 1, .epoch = 0}, settings);
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 0, 20, 20);
    // Within the new history, resent records are skipped again.
    WriteAll(*sink, log, 0, 20, 7);
  }
  EXPECT_EQ(applied(), "50");
  EXPECT_EQ(stored(), "20|1|0");
  // A runner of an older history still running (the host fences it at its next checkpoint)
  // applies nothing; RETRY keeps it from failing the connector that the new runner runs.
  ExpectStale({.connector_id = "conn-history", .generation = 0, .epoch = 9}, settings,
              "(generation 0, epoch 9)");
  EXPECT_EQ(applied(), "50");
  EXPECT_EQ(stored(), "20|1|0");
}

// A positions table written by the sink before it knew generations and epochs: the columns are
// added at open, and the stored position counts as the current history's, so the upgrade goes
// on where it stopped.
TEST_F(PostgresSinkTest, APositionsTableFromBeforeEpochsGetsTheColumnsAndKeepsItsPosition) {
  db_->Exec("CREATE SCHEMA legacy");
  db_->Exec(
      "CREATE TABLE legacy.esdb_sink_positions (connector_id text PRIMARY KEY, "
      "commit_position bigint NOT NULL, prepare_position bigint NOT NULL, "
      "updated timestamptz NOT NULL DEFAULT now())");
  db_->Exec("INSERT INTO legacy.esdb_sink_positions VALUES ('conn-legacy', 6, 6, now())");
  auto sink = OpenAs({.connector_id = "conn-legacy", .generation = 0, .epoch = 3},
                     {{"schema", "legacy"}, {"table", "legacy_events"}});
  ASSERT_NE(sink, nullptr);
  WriteAll(*sink, Log(10), 0, 10, 10);
  EXPECT_EQ(db_->Rows("SELECT position FROM legacy.legacy_events ORDER BY position"),
            (std::vector<std::string>{"7", "8", "9", "10"}));
  EXPECT_EQ(db_->One("SELECT commit_position, generation, epoch FROM legacy.esdb_sink_positions"),
            "10|0|3");
  // A second open finds the columns there and does not alter the table again.
  auto again = OpenAs({.connector_id = "conn-legacy", .generation = 0, .epoch = 3},
                      {{"schema", "legacy"}, {"table", "legacy_events"}});
  ASSERT_NE(again, nullptr);
}

TEST_F(PostgresSinkTest, EveryEventOnceInOrderAcrossTenSigkillsOfTheSinkProcess) {
  // A child process opens the sink and delivers from the checkpoint, reporting each acknowledged
  // batch's last position on a pipe; the parent kills it with SIGKILL after a varying number of
  // acknowledgements, while it is in the middle of further batches. Like the host, the next
  // child starts from the last acknowledged position (its checkpoint), so it resends whatever
  // was committed but not acknowledged. Statements mode with a plain INSERT (no key, no
  // ON CONFLICT): a record applied twice would show as a duplicate row.
  db_->Exec("CREATE TABLE killed (position bigint, stream text, revision bigint)");
  const int kEvents = 20000;
  const size_t kBatch = 200;
  std::vector<Record> log = Log(kEvents);
  size_t checkpoint = 0;  // records acknowledged so far
  for (int round = 0; round <= 10 && checkpoint < log.size(); ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      auto sink = plugin_->Open(
          {"conn-killed"},
          {{"connectionString", server_->ConnectionString()},
           {"mode", "statements"},
           {"statement:*", "INSERT INTO killed VALUES ($position, $stream, $revision)"}},
          [](esdb_sink_log_level, const std::string&) {});
      if (!sink.ok()) _exit(2);
      for (size_t at = checkpoint; at < log.size(); at += kBatch) {
        std::span<const Record> part(log.data() + at, std::min(kBatch, log.size() - at));
        if ((*sink)->Write(part).outcome != SinkOutcome::kOk) _exit(3);
        uint64_t acked = at + part.size();
        if (write(fds[1], &acked, sizeof(acked)) != sizeof(acked)) _exit(4);
      }
      _exit(0);
    }
    close(fds[1]);
    // Round r lets 3 + 2r batches be acknowledged, then kills (the last round runs to the end).
    size_t acks_before_kill = round < 10 ? 3 + 2 * round : SIZE_MAX;
    uint64_t acked = 0;
    size_t acks = 0;
    while (acks < acks_before_kill && read(fds[0], &acked, sizeof(acked)) == sizeof(acked)) {
      checkpoint = acked;
      ++acks;
    }
    if (round < 10) kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    close(fds[0]);
    if (round == 10) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
  }
  ASSERT_EQ(checkpoint, log.size());
  std::vector<std::string> rows = db_->Rows("SELECT position FROM killed ORDER BY position");
  EXPECT_EQ(rows.size(), log.size());
  EXPECT_EQ(rows, OneTo(kEvents));
  // Applied in log order: insertion order (ctid in a table that is only appended to) follows
  // the positions.
  EXPECT_EQ(db_->One("SELECT count(*) FROM (SELECT position, lag(position) OVER (ORDER BY ctid) "
                     "AS before FROM killed) s WHERE before >= position"),
            "0");
}

TEST_F(PostgresSinkTest, DatabaseRestartMidDeliveryIsRetriedWithoutLossOrDuplicates) {
  auto sink = Open("conn-restart", {{"table", "restart_events"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(300);
  WriteAll(*sink, log, 0, 100, 50);
  db_.reset();
  ASSERT_TRUE(server_->Stop());
  std::span<const Record> next(log.data() + 100, 50);
  SinkResult r = sink->Write(next);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry) << r.message;
  ASSERT_TRUE(server_->Start());
  // The host resends the same batch; the sink reconnects.
  WriteAll(*sink, log, 100, 300, 50);
  db_ = std::make_unique<Db>(server_->ConnectionString());
  EXPECT_EQ(Positions("restart_events"), OneTo(300));
}

// ---- error classes ----

TEST_F(PostgresSinkTest, ConstraintViolationIsFatalNamingTheRecordAndNothingOfTheBatchStays) {
  db_->Exec("CREATE TABLE checked (id text PRIMARY KEY, amount int CHECK (amount >= 0))");
  auto sink = Open("conn-checked",
                   {{"mode", "statements"},
                    {"statement:*", "INSERT INTO checked VALUES ($data.id, $data.amount::int)"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = {MakeRecord("s", 0, 1, "T", R"({"id":"a","amount":1})"),
                             MakeRecord("s", 1, 2, "T", R"({"id":"b","amount":-5})"),
                             MakeRecord("s", 2, 3, "T", R"({"id":"c","amount":2})")};
  SinkResult r = sink->Write(log);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("record at position 2 (stream s, revision 1, type T)"));
  EXPECT_THAT(r.message, HasSubstr("check constraint"));
  EXPECT_THAT(r.message, HasSubstr("SQLSTATE 23514"));
  EXPECT_EQ(db_->Rows("SELECT id FROM checked"), std::vector<std::string>{});

  // A value the column's type refuses: a data exception, FATAL too.
  std::vector<Record> bad = {MakeRecord("s", 0, 1, "T", R"({"id":"d","amount":"many"})")};
  r = sink->Write(bad);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("SQLSTATE 22P02"));
  // Deep in a batch, past the first pipeline segments: still the right record.
  std::vector<Record> many;
  for (int i = 1; i <= 250; ++i) {
    many.push_back(
        MakeRecord("m", i - 1, i, "T",
                   absl::StrCat(R"({"id":"m)", i, R"(","amount":)", i == 173 ? -1 : i, "}")));
  }
  r = sink->Write(many);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("record at position 173 (stream m, revision 172, type T)"));
  EXPECT_EQ(db_->Rows("SELECT id FROM checked"), std::vector<std::string>{});
  // The sink is still usable afterwards (the failed transaction was rolled back).
  std::vector<Record> good = {MakeRecord("s", 0, 1, "T", R"({"id":"e","amount":7})")};
  r = sink->Write(good);
  EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
}

// A reset (a new epoch) delivers from an earlier start again; in append mode the table holds the
// rows of the old epoch already, or some of them when an operator deleted the rest to have them
// written again. The rows there are kept, the missing ones written, and the sink goes on.
TEST_F(PostgresSinkTest, AppendModeAfterAResetKeepsTheRowsThereAndWritesTheMissingOnes) {
  const SettingsMap settings = {{"table", "reset_events"}};
  std::vector<Record> log = Log(40);
  {
    auto sink = OpenAs({.connector_id = "conn-reset", .epoch = 1}, settings);
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 0, 20, 10);
  }
  db_->Exec("DELETE FROM reset_events WHERE position > 15");
  db_->Exec("UPDATE reset_events SET stream = 'kept' WHERE position = 12");
  {
    // Reset to position 10: epoch 2 delivers 11.. again, and on past the old epoch's end.
    auto sink = OpenAs({.connector_id = "conn-reset", .epoch = 2}, settings);
    ASSERT_NE(sink, nullptr);
    WriteAll(*sink, log, 10, 40, 8);
  }
  EXPECT_EQ(Positions("reset_events"), OneTo(40));
  EXPECT_EQ(db_->One("SELECT stream FROM reset_events WHERE position = 12"), "kept")
      << "a row already there is left as it is";
  EXPECT_EQ(db_->One("SELECT commit_position, epoch FROM esdb_sink_positions "
                     "WHERE connector_id = 'conn-reset'"),
            "40|2");
}

TEST_F(PostgresSinkTest, AppendModeRefusalDeepInABatchNamesTheRecordAndLeavesNothing) {
  auto sink = Open("conn-append-checked", {{"table", "checked_events"}});
  ASSERT_NE(sink, nullptr);
  db_->Exec("ALTER TABLE checked_events ADD CHECK (event_type <> 'Refused')");
  std::vector<Record> log = Log(500);
  log[316].event_type = "Refused";
  SinkResult r = sink->Write(log);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("record at position 317 (stream orders-2, revision 105, type "
                                   "Refused)"));
  EXPECT_THAT(r.message, HasSubstr("violates check constraint"));
  EXPECT_EQ(Positions("checked_events"), std::vector<std::string>{});

  // An event id that is no UUID: refused before anything is sent, naming the record.
  log = Log(3);
  log[2].event_id = "not-a-uuid";
  r = sink->Write(log);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("record at position 3 (stream orders-0, revision 0"));
  EXPECT_THAT(r.message, HasSubstr("not a UUID"));
  EXPECT_EQ(Positions("checked_events"), std::vector<std::string>{});

  // The sink goes on with the next batch.
  WriteAll(*sink, Log(20), 0, 20, 20);
  EXPECT_EQ(Positions("checked_events"), OneTo(20));
}

TEST_F(PostgresSinkTest, BadSqlOrAMissingColumnAtOpenIsInvalidConfigWithTheServersMessage) {
  db_->Exec("CREATE TABLE IF NOT EXISTS plain (id text)");
  auto syntax = TryOpen(
      "conn-bad", {{"mode", "statements"}, {"statement:*", "INSERT INTO plain VALUS ($stream)"}});
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(syntax.status().message(), HasSubstr("statement:*"));
  EXPECT_THAT(syntax.status().message(), HasSubstr("syntax error"));

  auto column = TryOpen(
      "conn-bad", {{"mode", "statements"}, {"statement:X", "UPDATE plain SET nope = $stream"}});
  ASSERT_FALSE(column.ok());
  EXPECT_EQ(column.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(column.status().message(), HasSubstr("statement:X"));
  EXPECT_THAT(column.status().message(), HasSubstr("\"nope\""));

  // An existing table that does not have the append columns.
  auto table = TryOpen("conn-bad", {{"table", "plain"}});
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("does not exist"));
}

TEST_F(PostgresSinkTest, UnreachableServerAtOpenIsRetry) {
  auto sink = plugin_->Open(
      {"conn-gone"}, {{"connectionString", "host=/nonexistent-socket-dir port=5432 user=esdb"}},
      log_.Fn());
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(sink.status().message(), HasSubstr("cannot connect"));
}

TEST_F(PostgresSinkTest, TheConnectionStringOverridesTheSinksConnectionDefaults) {
  auto plain = Open("conn-defaults", {{"table", "defaults_events"}});
  ASSERT_NE(plain, nullptr);
  auto named = Open("conn-named",
                    {{"table", "defaults_events"},
                     {"connectionString", server_->ConnectionString() + " application_name=mine"}});
  ASSERT_NE(named, nullptr);
  EXPECT_EQ(db_->Rows("SELECT application_name FROM pg_stat_activity WHERE application_name "
                      "IN ('mine', 'esdb-connectors postgres-sink') ORDER BY 1"),
            (std::vector<std::string>{"esdb-connectors postgres-sink", "mine"}));
}

TEST_F(PostgresSinkTest, APositionRowLockedElsewhereEndsInRetryNotFatal) {
  // lock_timeout makes the wait for the row end in SQLSTATE 55P03, which a retry can fix.
  auto sink =
      Open("conn-locked",
           {{"table", "locked_events"},
            {"connectionString", server_->ConnectionString() + " options='-c lock_timeout=100'"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(4);
  WriteAll(*sink, log, 0, 2, 2);
  db_->Exec("BEGIN");
  db_->Exec("SELECT * FROM esdb_sink_positions WHERE connector_id = 'conn-locked' FOR UPDATE");
  SinkResult r = sink->Write(std::span<const Record>(log.data() + 2, 2));
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry) << r.message;
  db_->Exec("COMMIT");
  WriteAll(*sink, log, 2, 4, 2);
  EXPECT_EQ(Positions("locked_events"), OneTo(4));
}

}  // namespace
}  // namespace esdb
