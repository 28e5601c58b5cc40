// The runner's failure policy: records the sink refuses for good are found by splitting the batch
// and set aside in the dead-letter stream (errors:tolerance=all), in order, each once, never
// both delivered and set aside; dead letters are replayed; a lost write is retried on a new
// instance.
#include <atomic>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "delivery/dead_letters.h"
#include "delivery/runner.h"
#include "delivery/runner_test_util.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

// A sink that refuses, alone or in any batch, the records whose data contains "poison" (FATAL),
// or "stuck" (RETRY), and accepts every other batch whole.
struct Script {
  absl::Mutex mu;
  std::vector<Record> accepted ABSL_GUARDED_BY(mu);
  int writes ABSL_GUARDED_BY(mu) = 0;
  int opens ABSL_GUARDED_BY(mu) = 0;
  bool refuse_poison = true;
  bool name_the_record = false;  // answer with failed_index, as esdb_sink_host.fail_record does
  bool down = false;             // every write answers RETRY
  int lose_first_writes = 0;     // that many writes never complete (the instance is lost)

  size_t Count() {
    absl::MutexLock l(&mu);
    return accepted.size();
  }
  bool WaitFor(size_t n) {
    absl::MutexLock l(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return accepted.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
  std::vector<Record> Accepted() {
    absl::MutexLock l(&mu);
    return accepted;
  }
};

class ScriptSink : public Sink {
 public:
  explicit ScriptSink(std::shared_ptr<Script> s) : s_(std::move(s)) {}
  SinkResult Write(std::span<const Record> records) override {
    absl::MutexLock l(&s_->mu);
    ++s_->writes;
    if (lost_) return {SinkOutcome::kFatal, "written after it was lost"};
    if (s_->lose_first_writes > 0) {
      --s_->lose_first_writes;
      lost_ = true;
      SinkResult r{SinkOutcome::kRetry, "did not complete within 1ms"};
      r.instance_lost = true;
      return r;
    }
    if (s_->down) return {SinkOutcome::kRetry, "connection refused"};
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string& data = records[i].data;
      bool poison = s_->refuse_poison && absl::StrContains(data, "poison");
      if (!poison && !absl::StrContains(data, "stuck")) continue;
      SinkResult r{poison ? SinkOutcome::kFatal : SinkOutcome::kRetry,
                   poison ? "400 Bad Request" : "503 Service Unavailable"};
      if (s_->name_the_record) {
        s_->accepted.insert(s_->accepted.end(), records.begin(), records.begin() + i);
        r.failed_index = i;
      }
      return r;
    }
    s_->accepted.insert(s_->accepted.end(), records.begin(), records.end());
    return {};
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  std::shared_ptr<Script> s_;
  bool lost_ = false;
};

using Reports = RunnerReports;

class FailurePolicyTest : public ::testing::Test {
 protected:
  // `n` events over 5 streams; those at the given indexes carry `mark` in their data.
  void AppendEvents(int n, const std::set<int>& marked = {}, const std::string& mark = "poison") {
    std::map<int, std::string> marks;
    for (int i : marked) marks[i] = mark;
    AppendMarked(n, marks);
  }
  // The same, with a mark of its own for each index.
  void AppendMarked(int n, const std::map<int, std::string>& marks) {
    for (int i = 0; i < n; ++i) {
      EventData e;
      e.event_type = "Placed";
      auto mark = marks.find(i);
      e.data = mark != marks.end()
                   ? absl::StrCat(R"({"n":)", i, R"(,")", mark->second, R"(":true})")
                   : absl::StrCat(R"({"n":)", i, "}");
      e.metadata = absl::StrCat(R"({"i":)", i, "}");
      auto r = client_.Append(absl::StrCat("orders-", i % 5), ESDB_EXPECT_ANY,
                              std::span<const EventData>(&e, 1));
      ASSERT_TRUE(r.ok());
      positions_.push_back(r->position);
    }
  }

  static ConnectorSettings Settings() {
    ConnectorSettings s = QuickRunnerSettings();
    s.errors_tolerance = ErrorTolerance::kAll;
    return s;
  }

  std::unique_ptr<Runner> MakeRunner(
      std::shared_ptr<Script> script, ConnectorSettings s, Reports* reports,
      int64_t replay_request = -1, std::string dead_letter_stream = "",
      int64_t replay_until_us = std::numeric_limits<int64_t>::max()) {
    RunnerOptions o;
    o.connector_id = "c1";
    o.host_id = "h1";
    o.settings = s;
    o.epoch = 0;
    o.node = runner_node_ != nullptr ? runner_node_ : &client_;
    o.open_sink = [script]() -> absl::StatusOr<std::unique_ptr<Sink>> {
      absl::MutexLock l(&script->mu);
      ++script->opens;
      return std::make_unique<ScriptSink>(script);
    };
    o.on_event = reports->Collector();
    o.metrics = metrics_;
    o.dead_letter_stream = std::move(dead_letter_stream);
    o.replay_request = replay_request;
    o.replay_until_us = replay_until_us;
    o.scan_checkpoint_gap = scan_checkpoint_gap_;
    return std::make_unique<Runner>(std::move(o));
  }

  DeadLetterLedger Ledger(int64_t request = -1, const std::string& stream = "") {
    auto l = ReadDeadLetters(client_, stream.empty() ? DeadLetterStream("c1") : stream, "c1", 0,
                             request);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : DeadLetterLedger{};
  }

  static bool PollUntil(const std::function<bool()>& done) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
  std::shared_ptr<ConnectorMetrics> metrics_ = std::make_shared<ConnectorMetrics>();
  std::vector<Position> positions_;                        // of the events appended, in order
  const NodeClient* runner_node_ = nullptr;                // the runner's node, when not client_
  absl::Duration scan_checkpoint_gap_ = absl::Seconds(1);  // RunnerOptions::scan_checkpoint_gap
};

// Every accepted record is in log order and at a position not seen before.
void ExpectOrderedOnce(const std::vector<Record>& records) {
  for (size_t i = 1; i < records.size(); ++i) {
    ASSERT_LT(records[i - 1].position, records[i].position) << "at " << i;
  }
}

TEST_F(FailurePolicyTest, PoisonRecordsAreSetAsideInOrderAndEveryOtherIsDeliveredOnce) {
  const std::set<int> poison = {0, 417, 418, 999};
  AppendEvents(1000, poison);
  auto script = std::make_shared<Script>();
  Reports reports;
  auto runner = MakeRunner(script, Settings(), &reports);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(996));
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 4; }));
  std::vector<Record> got = script->Accepted();
  ASSERT_EQ(got.size(), 996u);
  ExpectOrderedOnce(got);
  for (const Record& r : got) EXPECT_FALSE(absl::StrContains(r.data, "poison")) << r.data;

  DeadLetterLedger ledger = Ledger();
  ASSERT_EQ(ledger.pending.size(), 4u);
  std::vector<int> at(poison.begin(), poison.end());
  for (size_t i = 0; i < at.size(); ++i) {
    const DeadLetter& d = ledger.pending[i];
    EXPECT_EQ(d.record.position, positions_[at[i]]) << i;  // in log order
    EXPECT_EQ(d.record.stream, absl::StrCat("orders-", at[i] % 5));
    EXPECT_EQ(d.record.data, absl::StrCat(R"({"n":)", at[i], R"(,"poison":true})"));
    EXPECT_EQ(d.record.metadata, absl::StrCat(R"({"i":)", at[i], "}"));
    EXPECT_EQ(d.record.event_type, "Placed");
    EXPECT_FALSE(d.record.event_id.empty());
    EXPECT_EQ(d.context.connector_id, "c1");
    EXPECT_EQ(d.context.error, "400 Bad Request");
    EXPECT_EQ(d.context.attempts, 1);
    EXPECT_EQ(d.context.host, "h1");
    EXPECT_GT(d.context.at_us, 0);
  }
  EXPECT_TRUE(reports.Has(RunnerEvent::Kind::kHealthy));
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
  runner->Stop();
  // The checkpoint passed them all and counts them, with the last error.
  CheckpointStore store(&client_, "c1", 0, "reader");
  auto cp = store.Load();
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_GE((*cp)->position, positions_.back());
  EXPECT_EQ((*cp)->dead_letters, 4);
  EXPECT_EQ((*cp)->last_dead_letter_error, "400 Bad Request");
}

// Holds the second checkpoint append of connector c1 (the first after its start claim) until
// opened, outside the node's locks, so that other appends (dead letters) go on meanwhile.
struct CheckpointGate {
  absl::Mutex mu;
  bool closed ABSL_GUARDED_BY(mu) = true;
  bool held ABSL_GUARDED_BY(mu) = false;
  int checkpoints ABSL_GUARDED_BY(mu) = 0;
  decltype(esdb_node_api::append) real = nullptr;
};
CheckpointGate* gate = nullptr;

esdb_node_status GatedAppend(void* ctx, const char* stream, int64_t expected_revision,
                             const esdb_event_data* const* events, size_t count,
                             esdb_append_result* result, char* err, size_t err_size) {
  if (std::string_view(stream) == "$connectors/c1/checkpoints") {
    absl::MutexLock l(&gate->mu);
    if (++gate->checkpoints == 2 && gate->closed) {
      gate->held = true;
      gate->mu.Await(absl::Condition(
          +[](bool* closed) { return !*closed; }, &gate->closed));
    }
  }
  return gate->real(ctx, stream, expected_revision, events, count, result, err, err_size);
}

// A record set aside is checkpointed at once; when a checkpoint is being appended in the
// background then, right after that one, without waiting for the autocommit policy.
TEST_F(FailurePolicyTest, ARecordSetAsideWhileACheckpointIsInFlightIsCheckpointedRightAfter) {
  AppendEvents(150, {140});
  CheckpointGate g;
  g.real = node_->api()->append;
  gate = &g;
  esdb_node_api api = *node_->api();
  api.append = GatedAppend;
  NodeClient gated(&api);
  runner_node_ = &gated;
  // No checkpoint of the scan notices' within the test: a checkpoint of the dead letter can then
  // only be the one it forces.
  scan_checkpoint_gap_ = absl::Hours(1);
  auto script = std::make_shared<Script>();
  Reports reports;
  auto runner = MakeRunner(script, Settings(), &reports);
  runner->Start();
  // The checkpoint due after 100 records is held; the poison (at 140) is set aside meanwhile,
  // and everything else delivered.
  ASSERT_TRUE(script->WaitFor(149));
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 1; }));
  {
    // The runner counts the checkpoint as in flight from the moment it hands the append to the
    // task pool, and delivers on meanwhile: on a busy machine all of the above can be done before
    // a pool thread has even reached the gate. So wait for the append to be held there.
    absl::MutexLock l(&g.mu);
    EXPECT_TRUE(g.mu.AwaitWithTimeout(absl::Condition(&g.held), absl::Seconds(20)))
        << "the checkpoint append due after 100 records never reached the gate";
    g.closed = false;
  }
  // Since the held one: under 100 records, the interval is a minute and the scan notices' gap
  // an hour. Only the checkpoint forced by the dead letter is due.
  EXPECT_TRUE(PollUntil([&] {
    CheckpointStore store(&client_, "c1", 0, "reader");
    auto cp = store.Load();
    return cp.ok() && cp->has_value() && (*cp)->dead_letters == 1 &&
           (*cp)->position >= positions_[140];
  }));
  runner->Stop();
  ExpectOrderedOnce(script->Accepted());
  gate = nullptr;
}

TEST_F(FailurePolicyTest, WithToleranceNoneAPoisonRecordFailsTheConnector) {
  AppendEvents(100, {50});
  auto script = std::make_shared<Script>();
  Reports reports;
  ConnectorSettings s = Settings();
  s.errors_tolerance = ErrorTolerance::kNone;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  std::string why;
  ASSERT_TRUE(reports.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_EQ(why, "sink failed: 400 Bad Request");
  EXPECT_EQ(metrics_->dead_letters.load(), 0u);
  EXPECT_EQ(Ledger().total, 0);
  EXPECT_LT(script->Count(), 50u);  // nothing past the poison
}

TEST_F(FailurePolicyTest, ARecordTheSinkNamesIsSetAsideWithoutSplitting) {
  AppendEvents(64, {40});
  auto script = std::make_shared<Script>();
  script->name_the_record = true;
  Reports reports;
  ConnectorSettings s = Settings();
  s.batch_size = 64;
  s.batch_timeout_ms = 5000;  // one batch of 64
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(63));
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 1; }));
  std::vector<Record> got = script->Accepted();
  ASSERT_EQ(got.size(), 63u);
  ExpectOrderedOnce(got);
  {
    absl::MutexLock l(&script->mu);
    EXPECT_EQ(script->writes, 2);  // the batch, then what followed the named record
  }
  ASSERT_EQ(Ledger().pending.size(), 1u);
  EXPECT_EQ(Ledger().pending[0].record.position, positions_[40]);
}

TEST_F(FailurePolicyTest, ARecordThatKeepsAskingForRetryIsSetAsideOnceALaterOneGoesThrough) {
  AppendEvents(200, {77}, "stuck");
  auto script = std::make_shared<Script>();
  Reports reports;
  ConnectorSettings s = Settings();
  s.max_attempts = 3;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(199));
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 1; }));
  ExpectOrderedOnce(script->Accepted());
  DeadLetterLedger ledger = Ledger();
  ASSERT_EQ(ledger.pending.size(), 1u);
  EXPECT_EQ(ledger.pending[0].record.position, positions_[77]);
  EXPECT_EQ(ledger.pending[0].context.error, "503 Service Unavailable");
  EXPECT_EQ(ledger.pending[0].context.attempts, 3);
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
}

TEST_F(FailurePolicyTest, AFatalAnswerAfterAHeldRecordShowsTheDestinationWorks) {
  // 30 asks for RETRY alone, and the record after it is refused for good: an answer, so the
  // destination works and both are set aside, in order.
  AppendMarked(60, {{30, "stuck"}, {31, "poison"}});
  auto script = std::make_shared<Script>();
  Reports reports;
  ConnectorSettings s = Settings();
  s.max_attempts = 2;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(58));
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 2; }));
  ExpectOrderedOnce(script->Accepted());
  DeadLetterLedger ledger = Ledger();
  ASSERT_EQ(ledger.pending.size(), 2u);
  EXPECT_EQ(ledger.pending[0].record.position, positions_[30]);
  EXPECT_EQ(ledger.pending[0].context.error, "503 Service Unavailable");
  EXPECT_EQ(ledger.pending[1].record.position, positions_[31]);
  EXPECT_EQ(ledger.pending[1].context.error, "400 Bad Request");
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
}

TEST_F(FailurePolicyTest, ADestinationThatIsDownFailsTheConnectorRatherThanSettingAllAside) {
  AppendEvents(100);
  auto script = std::make_shared<Script>();
  script->down = true;
  Reports reports;
  ConnectorSettings s = Settings();
  s.max_attempts = 2;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  std::string why;
  ASSERT_TRUE(reports.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_TRUE(absl::StrContains(why, "connection refused")) << why;
  EXPECT_TRUE(absl::StrContains(why, "the destination fails, not a record")) << why;
  EXPECT_EQ(Ledger().total, 0);
  EXPECT_EQ(metrics_->dead_letters.load(), 0u);
}

TEST_F(FailurePolicyTest, ADeadLetterWrittenBeforeACrashIsNotWrittenAgain) {
  AppendEvents(100, {60});
  ConnectorSettings s = Settings();
  s.autocommit_enabled = false;  // no checkpoint passes the record before the crash
  {
    auto script = std::make_shared<Script>();
    Reports reports;
    auto runner = MakeRunner(script, s, &reports);
    runner->Start();
    ASSERT_TRUE(script->WaitFor(99));
    ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 1; }));
    runner->Kill();  // a crash: no final checkpoint
  }
  auto script = std::make_shared<Script>();
  Reports reports;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(99));  // everything again (at least once) ...
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 2; }));
  runner->Stop();
  DeadLetterLedger ledger = Ledger();
  EXPECT_EQ(ledger.total, 1);  // ... but the dead letter once
  // Counted once by the checkpoint too: the first runner's count was never saved.
  CheckpointStore store(&client_, "c1", 0, "reader");
  auto cp = store.Load();
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->dead_letters, 1);
}

TEST_F(FailurePolicyTest, ItsOwnDeadLetterStreamIsNeverDeliveredBack) {
  AppendEvents(50, {10, 20});
  auto script = std::make_shared<Script>();
  Reports reports;
  auto runner = MakeRunner(script, Settings(), &reports, -1, "orders-dead");
  runner->Start();
  ASSERT_TRUE(script->WaitFor(48));
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 2; }));
  AppendEvents(10);  // more after the dead letters, so the runner has read past them
  ASSERT_TRUE(script->WaitFor(58));
  for (const Record& r : script->Accepted()) EXPECT_NE(r.stream, "orders-dead");
  EXPECT_EQ(Ledger(-1, "orders-dead").total, 2);
  EXPECT_EQ(Ledger().total, 0);  // not in the default stream
}

TEST_F(FailurePolicyTest, ReplaySendsTheDeadLettersAgainInOrderAndRecordsIt) {
  AppendEvents(100, {5, 50, 95});
  {
    auto script = std::make_shared<Script>();
    Reports reports;
    auto runner = MakeRunner(script, Settings(), &reports);
    runner->Start();
    ASSERT_TRUE(script->WaitFor(97));
    ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 3; }));
  }
  // The destination accepts them now; the replay request is revision 12 of the connector stream.
  auto script = std::make_shared<Script>();
  script->refuse_poison = false;
  Reports reports;
  auto runner = MakeRunner(script, Settings(), &reports, /*replay_request=*/12);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(3));
  std::vector<Record> got = script->Accepted();
  ASSERT_EQ(got.size(), 3u);  // nothing after the last checkpoint to deliver again
  EXPECT_EQ(got[0].position, positions_[5]);
  EXPECT_EQ(got[1].position, positions_[50]);
  EXPECT_EQ(got[2].position, positions_[95]);
  EXPECT_EQ(got[1].data, R"({"n":50,"poison":true})");
  EXPECT_EQ(got[1].metadata, R"({"i":50})");
  EXPECT_EQ(got[1].stream, "orders-0");
  ASSERT_TRUE(PollUntil([&] { return Ledger(12).pending.empty(); }));
  DeadLetterLedger ledger = Ledger(12);
  EXPECT_EQ(ledger.total, 3);
  EXPECT_EQ(ledger.replayed, 3);
  EXPECT_EQ(ledger.tried.size(), 3u);
  runner->Stop();

  // Started again for the same request: nothing is sent twice.
  auto again = std::make_shared<Script>();
  Reports again_reports;
  auto second = MakeRunner(again, Settings(), &again_reports, 12);
  second->Start();
  ASSERT_TRUE(again_reports.WaitFor(RunnerEvent::Kind::kHealthy));
  EXPECT_EQ(again->Count(), 0u);
}

TEST_F(FailurePolicyTest, AReplaySendsOnlyWhatWasSetAsideBeforeItWasRequested) {
  AppendEvents(20, {3, 9});
  {
    auto script = std::make_shared<Script>();
    Reports reports;
    auto runner = MakeRunner(script, Settings(), &reports);
    runner->Start();
    ASSERT_TRUE(script->WaitFor(18));
    ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 2; }));
  }
  const int64_t requested_us = absl::ToUnixMicros(absl::Now());
  absl::SleepFor(absl::Milliseconds(2));  // the node's clock must move past the request
  AppendEvents(5, {2});                   // a third one, after the request
  {
    auto script = std::make_shared<Script>();
    Reports reports;
    auto runner = MakeRunner(script, Settings(), &reports);
    runner->Start();
    ASSERT_TRUE(script->WaitFor(4));
    ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 3; }));
  }
  auto script = std::make_shared<Script>();
  script->refuse_poison = false;
  Reports reports;
  auto runner = MakeRunner(script, Settings(), &reports, 40, "", requested_us);
  runner->Start();
  ASSERT_TRUE(PollUntil([&] { return Ledger(40).tried.size() == 2; }));
  ASSERT_TRUE(reports.WaitFor(RunnerEvent::Kind::kHealthy));
  std::vector<Record> got = script->Accepted();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].position, positions_[3]);
  EXPECT_EQ(got[1].position, positions_[9]);
  EXPECT_EQ(Ledger(40).pending.size(), 1u);
}

TEST_F(FailurePolicyTest, ADeadLetterRefusedAgainStaysOne) {
  AppendEvents(20, {7});
  {
    auto script = std::make_shared<Script>();
    Reports reports;
    auto runner = MakeRunner(script, Settings(), &reports);
    runner->Start();
    ASSERT_TRUE(script->WaitFor(19));
    ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 1; }));
  }
  auto script = std::make_shared<Script>();  // still refuses it
  Reports reports;
  auto runner = MakeRunner(script, Settings(), &reports, 30);
  runner->Start();
  ASSERT_TRUE(PollUntil([&] { return Ledger(30).tried.size() == 1; }));
  DeadLetterLedger ledger = Ledger(30);
  EXPECT_EQ(ledger.pending.size(), 1u);
  EXPECT_EQ(ledger.replayed, 0);
  EXPECT_EQ(script->Count(), 0u);
}

TEST_F(FailurePolicyTest, AWriteThatNeverCompletedIsMadeAgainOnANewInstance) {
  AppendEvents(100);
  auto script = std::make_shared<Script>();
  script->lose_first_writes = 1;
  Reports reports;
  ConnectorSettings s = Settings();
  s.errors_tolerance = ErrorTolerance::kNone;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(100));
  ExpectOrderedOnce(script->Accepted());
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(script->opens, 2);
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
}

TEST_F(FailurePolicyTest, WritesThatNeverCompleteFailTheConnectorAfterMaxAttempts) {
  AppendEvents(10);
  auto script = std::make_shared<Script>();
  script->lose_first_writes = 1000;
  Reports reports;
  ConnectorSettings s = Settings();
  s.errors_tolerance = ErrorTolerance::kNone;
  s.max_attempts = 3;
  auto runner = MakeRunner(script, s, &reports);
  runner->Start();
  std::string why;
  ASSERT_TRUE(reports.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_TRUE(absl::StrContains(why, "after 3 attempts")) << why;
  EXPECT_TRUE(absl::StrContains(why, "did not complete within")) << why;
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(script->opens, 3);  // each attempt on a new instance
}

}  // namespace
}  // namespace esdb
