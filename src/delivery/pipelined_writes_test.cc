// batching:maxInFlight: several submitted writes outstanding on a sink that takes them, with
// completions out of order; the checkpoint only over the acknowledged prefix; retries and a crash
// in the middle lose nothing. Driven with a sink whose completions the test controls, and with
// the testkit plugin (mode=scrambled) through the C ABI.
#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "delivery/runner.h"
#include "delivery/runner_test_util.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"
#include "sinks/plugin.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

// The writes a PipeSink was given, and what the test (or its answering thread) says of them.
struct Pipe {
  struct Write {
    std::vector<Record> records;
    std::function<void(SinkResult)> done;  // empty once completed
    int instance = 0;                      // the PipeSink it was made on (PipeSink::id_)
  };
  absl::Mutex mu;
  std::vector<Write> writes ABSL_GUARDED_BY(mu);  // in the order they were made
  std::vector<Record> acknowledged ABSL_GUARDED_BY(mu);
  int outstanding ABSL_GUARDED_BY(mu) = 0;
  int max_outstanding ABSL_GUARDED_BY(mu) = 0;
  int sync_writes ABSL_GUARDED_BY(mu) = 0;
  bool refuse_sync ABSL_GUARDED_BY(mu) = false;  // sync writes answer RETRY while set
  std::string poison_type;  // sync writes with a record of this type answer FATAL

  // Completes write `i` with `r` (acknowledged records are kept); false when it was completed.
  bool Complete(size_t i, SinkResult r = {}) {
    std::function<void(SinkResult)> done;
    {
      absl::MutexLock l(&mu);
      if (i >= writes.size() || !writes[i].done) return false;
      done = std::move(writes[i].done);
      writes[i].done = nullptr;
      --outstanding;
      if (r.outcome == SinkOutcome::kOk) {
        acknowledged.insert(acknowledged.end(), writes[i].records.begin(), writes[i].records.end());
      }
    }
    std::thread([done = std::move(done), r = std::move(r)] { done(r); }).join();
    return true;
  }
  bool WaitWrites(size_t n) {
    absl::MutexLock l(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return writes.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
  int OutstandingOn(int instance) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    int n = 0;
    for (const Write& w : writes) n += w.instance == instance && w.done != nullptr;
    return n;
  }
  size_t Writes() {
    absl::MutexLock l(&mu);
    return writes.size();
  }
};

class PipeSink : public Sink {
 public:
  explicit PipeSink(std::shared_ptr<Pipe> pipe) : pipe_(std::move(pipe)) {}
  bool pipelined() const override { return true; }
  // The sync path (a retry): acknowledged at once.
  SinkResult Write(std::span<const Record> records) override {
    absl::MutexLock l(&pipe_->mu);
    EXPECT_EQ(pipe_->OutstandingOn(id_), 0) << "a sync write beside submitted ones";
    if (pipe_->refuse_sync) return {SinkOutcome::kRetry, "still busy"};
    for (const Record& r : records) {
      if (!pipe_->poison_type.empty() && r.event_type == pipe_->poison_type) {
        return {SinkOutcome::kFatal, "poison"};
      }
    }
    ++pipe_->sync_writes;
    pipe_->writes.push_back({std::vector<Record>(records.begin(), records.end()), nullptr, id_});
    pipe_->acknowledged.insert(pipe_->acknowledged.end(), records.begin(), records.end());
    return {};
  }
  void Submit(std::shared_ptr<const std::vector<Record>> records,
              std::function<void(SinkResult)> done) override {
    absl::MutexLock l(&pipe_->mu);
    pipe_->writes.push_back({*records, std::move(done), id_});
    pipe_->max_outstanding = std::max(pipe_->max_outstanding, ++pipe_->outstanding);
  }
  absl::Status Flush() override {
    absl::MutexLock l(&pipe_->mu);
    EXPECT_EQ(pipe_->OutstandingOn(id_), 0) << "flush with writes outstanding";
    return absl::OkStatus();
  }
  void Abandon() override { abandoned_ = true; }
  ~PipeSink() override {
    absl::MutexLock l(&pipe_->mu);
    if (!abandoned_) EXPECT_EQ(pipe_->OutstandingOn(id_), 0) << "closed with writes outstanding";
  }

 private:
  std::shared_ptr<Pipe> pipe_;
  // Not the address: a new instance may be made where an abandoned one was.
  const int id_ = ++next_id_;
  static inline std::atomic<int> next_id_{0};
  bool abandoned_ = false;
};

class PipelinedWritesTest : public ::testing::Test {
 protected:
  ~PipelinedWritesTest() override { StopAnswering(); }

  void AppendEvents(int n, const std::string& type = "Placed") {
    for (int i = 0; i < n; ++i) {
      EventData e;
      e.event_type = type;
      e.data = absl::StrCat(R"({"n":)", appended_++, "}");
      auto r = client_.Append(absl::StrCat("orders-", i % 3), ESDB_EXPECT_ANY,
                              std::span<const EventData>(&e, 1));
      ASSERT_TRUE(r.ok());
      last_appended_ = r->position;
    }
  }
  ConnectorSettings Settings(int64_t max_in_flight) {
    ConnectorSettings s = QuickRunnerSettings();
    s.batch_size = 2;
    s.max_in_flight = max_in_flight;
    return s;
  }
  std::unique_ptr<Runner> MakeRunner(ConnectorSettings s, RunnerReports* reports,
                                     std::function<absl::StatusOr<std::unique_ptr<Sink>>()> open) {
    RunnerOptions o;
    o.connector_id = "c1";
    o.host_id = "h1";
    o.settings = s;
    o.epoch = 0;
    o.node = &client_;
    o.open_sink = std::move(open);
    o.on_event = reports->Collector();
    o.stop_timeout = absl::Milliseconds(300);
    o.metrics = metrics_;
    return std::make_unique<Runner>(std::move(o));
  }
  std::unique_ptr<Runner> MakeRunner(ConnectorSettings s, RunnerReports* reports,
                                     std::shared_ptr<Pipe> pipe) {
    return MakeRunner(s, reports, [pipe]() -> absl::StatusOr<std::unique_ptr<Sink>> {
      return std::make_unique<PipeSink>(pipe);
    });
  }
  std::optional<Position> Checkpointed() {
    CheckpointStore store(&client_, "c1", 0, "reader");
    auto c = store.Load();
    EXPECT_TRUE(c.ok());
    if (!c.ok() || !*c) return std::nullopt;
    return (*c)->position;
  }
  static bool PollUntil(const std::function<bool()>& done) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }
  // A thread that completes what is outstanding, newest first, as `answer` says.
  void AnswerScrambled(std::shared_ptr<Pipe> pipe,
                       std::function<std::optional<SinkResult>(size_t write)> answer = nullptr) {
    answering_ = true;
    answerer_ = std::thread([this, pipe, answer] {
      while (answering_) {
        absl::SleepFor(absl::Milliseconds(1));
        std::vector<size_t> open;
        {
          absl::MutexLock l(&pipe->mu);
          for (size_t i = 0; i < pipe->writes.size(); ++i) {
            if (pipe->writes[i].done) open.push_back(i);
          }
        }
        for (size_t k = open.size(); k-- > 0;) {
          std::optional<SinkResult> r = answer ? answer(open[k]) : SinkResult{};
          if (r) pipe->Complete(open[k], *r);  // nullopt: never completed
        }
      }
    });
  }
  void StopAnswering() {
    answering_ = false;
    if (answerer_.joinable()) answerer_.join();
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
  std::shared_ptr<ConnectorMetrics> metrics_ = std::make_shared<ConnectorMetrics>();
  int appended_ = 0;
  Position last_appended_;
  std::atomic<bool> answering_{false};
  std::thread answerer_;
};

std::set<std::string> Ids(const std::vector<Record>& records) {
  std::set<std::string> ids;
  for (const Record& r : records) ids.insert(r.event_id);
  return ids;
}

TEST_F(PipelinedWritesTest, CheckpointsOnlyOverTheContiguousAcknowledgedPrefix) {
  AppendEvents(10);  // five batches of two
  auto pipe = std::make_shared<Pipe>();
  RunnerReports reports;
  ConnectorSettings s = Settings(4);
  s.autocommit_records_threshold = 1;  // a checkpoint after every acknowledgement
  auto runner = MakeRunner(s, &reports, pipe);
  runner->Start();
  ASSERT_TRUE(pipe->WaitWrites(4));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(pipe->Writes(), 4u) << "no more than maxInFlight outstanding";
  std::vector<Position> ends;
  {
    absl::MutexLock l(&pipe->mu);
    for (const auto& w : pipe->writes) ends.push_back(w.records.back().position);
    // Made one at a time, in log order.
    for (size_t i = 1; i < pipe->writes.size(); ++i) {
      EXPECT_LT(pipe->writes[i - 1].records.back().position,
                pipe->writes[i].records.front().position);
    }
  }
  // The 2nd, 4th and 3rd complete: the 1st is still outstanding, so no checkpoint passes it.
  ASSERT_TRUE(pipe->Complete(1));
  ASSERT_TRUE(pipe->Complete(3));
  ASSERT_TRUE(pipe->Complete(2));
  absl::SleepFor(absl::Milliseconds(100));
  std::optional<Position> cp = Checkpointed();
  EXPECT_TRUE(!cp || *cp < ends[0]) << cp->ToString();
  EXPECT_EQ(metrics_->records_delivered.load(), 0);
  // The 1st completes: the prefix is the four, and the checkpoint follows it.
  ASSERT_TRUE(pipe->Complete(0));
  ASSERT_TRUE(PollUntil([&] {
    std::optional<Position> c = Checkpointed();
    return c && *c >= ends[3];
  }));
  // The fifth batch goes out; answered, everything is delivered once, in log order.
  ASSERT_TRUE(pipe->WaitWrites(5));
  ASSERT_TRUE(pipe->Complete(4));
  ASSERT_TRUE(PollUntil([&] { return metrics_->records_delivered.load() == 10; }));
  runner->Stop();
  EXPECT_GE(Checkpointed().value_or(Position{}), last_appended_);
  absl::MutexLock l(&pipe->mu);
  EXPECT_EQ(pipe->max_outstanding, 4);
  EXPECT_EQ(pipe->writes.size(), 5u);
  EXPECT_EQ(Ids(pipe->acknowledged).size(), 10u);
}

TEST_F(PipelinedWritesTest, ScrambledCompletionsDeliverEverythingInOrderOfWriting) {
  AppendEvents(300);
  auto pipe = std::make_shared<Pipe>();
  RunnerReports reports;
  auto runner = MakeRunner(Settings(8), &reports, pipe);
  AnswerScrambled(pipe);
  runner->Start();
  ASSERT_TRUE(PollUntil([&] { return metrics_->records_delivered.load() == 300; }));
  runner->Stop();
  StopAnswering();
  EXPECT_GE(Checkpointed().value_or(Position{}), last_appended_);
  absl::MutexLock l(&pipe->mu);
  EXPECT_GT(pipe->max_outstanding, 1);
  EXPECT_LE(pipe->max_outstanding, 8);
  std::vector<Record> written;
  for (const auto& w : pipe->writes)
    written.insert(written.end(), w.records.begin(), w.records.end());
  ASSERT_EQ(written.size(), 300u);
  for (size_t i = 1; i < written.size(); ++i)
    ASSERT_LT(written[i - 1].position, written[i].position);
}

TEST_F(PipelinedWritesTest, ARetryWaitsForTheOthersThenWritesAgainFromTheFirstUnacknowledged) {
  AppendEvents(40);
  auto pipe = std::make_shared<Pipe>();
  RunnerReports reports;
  auto runner = MakeRunner(Settings(4), &reports, pipe);
  // The third write made is refused once; all others are acknowledged, newest first.
  AnswerScrambled(pipe, [](size_t write) -> std::optional<SinkResult> {
    return write == 2 ? SinkResult{SinkOutcome::kRetry, "busy"} : SinkResult{};
  });
  runner->Start();
  ASSERT_TRUE(PollUntil([&] {
    absl::MutexLock l(&pipe->mu);
    return Ids(pipe->acknowledged).size() == 40;
  }));
  ASSERT_TRUE(PollUntil([&] { return Checkpointed().value_or(Position{}) >= last_appended_; }));
  runner->Stop();
  StopAnswering();
  EXPECT_GE(Checkpointed().value_or(Position{}), last_appended_);
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
  absl::MutexLock l(&pipe->mu);
  // The refused batch is written again next, alone (the sync path), then the ones after it.
  ASSERT_GT(pipe->writes.size(), 4u);
  const Position refused = pipe->writes[2].records.front().position;
  size_t again = 0;
  for (size_t i = 3; i < pipe->writes.size(); ++i) {
    if (pipe->writes[i].records.front().position == refused) {
      again = i;
      break;
    }
  }
  ASSERT_GT(again, 0u);
  EXPECT_EQ(pipe->sync_writes, 1);
  // After it, writing resumes with the batch that followed it: nothing skipped.
  for (size_t i = again + 1; i < pipe->writes.size(); ++i) {
    EXPECT_GT(pipe->writes[i].records.front().position,
              pipe->writes[i - 1].records.back().position);
  }
  EXPECT_GT(pipe->writes[again + 1].records.front().position, refused);
  EXPECT_LE(pipe->writes[again + 1].records.front().position,
            pipe->writes[3].records.front().position);
}

TEST_F(PipelinedWritesTest, AMarkerAfterWritesInFlightNeverPassesABatchBeingRetried) {
  AppendEvents(10);  // five batches of two, then the caught-up marker
  auto pipe = std::make_shared<Pipe>();
  {
    absl::MutexLock l(&pipe->mu);
    pipe->refuse_sync = true;  // the retries of a refused batch are refused too
  }
  RunnerReports reports;
  ConnectorSettings s = Settings(6);
  s.autocommit_records_threshold = 1;
  auto runner = MakeRunner(s, &reports, pipe);
  runner->Start();
  // All five are submitted with a slot to spare, so the marker after them is taken and waits
  // for them.
  ASSERT_TRUE(pipe->WaitWrites(5));
  absl::SleepFor(absl::Milliseconds(50));
  for (size_t i = 1; i < 5; ++i) ASSERT_TRUE(pipe->Complete(i));
  ASSERT_TRUE(pipe->Complete(0, {SinkOutcome::kRetry, "busy"}));
  Position refused;
  {
    absl::MutexLock l(&pipe->mu);
    refused = pipe->writes[0].records.front().position;
  }
  // While the first batch is refused again and again, nothing (the marker either) moves the checkpoint past it.
  absl::SleepFor(absl::Milliseconds(1500));
  std::optional<Position> cp = Checkpointed();
  EXPECT_TRUE(!cp || *cp < refused) << cp->ToString();
  {
    absl::MutexLock l(&pipe->mu);
    pipe->refuse_sync = false;
  }
  AnswerScrambled(pipe);
  ASSERT_TRUE(PollUntil([&] { return Checkpointed().value_or(Position{}) >= last_appended_; }));
  runner->Stop();
  StopAnswering();
  absl::MutexLock l(&pipe->mu);
  EXPECT_EQ(Ids(pipe->acknowledged).size(), 10u);
}

TEST_F(PipelinedWritesTest, WithToleranceAllARefusedRecordIsSetAsideAndTheRestDelivered) {
  AppendEvents(9);
  AppendEvents(1, "Poison");
  AppendEvents(10);
  auto pipe = std::make_shared<Pipe>();
  pipe->poison_type = "Poison";
  RunnerReports reports;
  ConnectorSettings s = Settings(4);
  s.errors_tolerance = ErrorTolerance::kAll;
  auto runner = MakeRunner(s, &reports, pipe);
  // Submitted writes holding the poison record are refused; the sync path refuses it too.
  AnswerScrambled(pipe, [pipe](size_t write) -> std::optional<SinkResult> {
    absl::MutexLock l(&pipe->mu);
    for (const Record& r : pipe->writes[write].records) {
      if (r.event_type == "Poison") {
        return SinkResult{SinkOutcome::kFatal, "poison"};
      }
    }
    return SinkResult{};
  });
  runner->Start();
  ASSERT_TRUE(PollUntil([&] { return metrics_->dead_letters.load() == 1; }));
  ASSERT_TRUE(PollUntil([&] {
    absl::MutexLock l(&pipe->mu);
    return Ids(pipe->acknowledged).size() == 19;
  }));
  ASSERT_TRUE(PollUntil([&] { return Checkpointed().value_or(Position{}) >= last_appended_; }));
  runner->Stop();
  StopAnswering();
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
  absl::MutexLock l(&pipe->mu);
  for (const Record& r : pipe->acknowledged) EXPECT_NE(r.event_type, "Poison");
}

TEST_F(PipelinedWritesTest, AFatalCompletionFailsTheConnectorAfterTheOthersComplete) {
  AppendEvents(20);
  auto pipe = std::make_shared<Pipe>();
  RunnerReports reports;
  auto runner = MakeRunner(Settings(4), &reports, pipe);
  AnswerScrambled(pipe, [](size_t write) -> std::optional<SinkResult> {
    return write == 1 ? SinkResult{SinkOutcome::kFatal, "refused"} : SinkResult{};
  });
  runner->Start();
  std::string why;
  ASSERT_TRUE(reports.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_NE(why.find("refused"), std::string::npos) << why;
  runner->Stop();
  StopAnswering();
  // Only the first write was acknowledged ahead of the refused one.
  std::optional<Position> cp = Checkpointed();
  absl::MutexLock l(&pipe->mu);
  ASSERT_TRUE(cp.has_value());
  EXPECT_LT(*cp, pipe->writes[1].records.front().position);
}

TEST_F(PipelinedWritesTest, AWriteThatNeverCompletesLosesTheInstanceAndIsRetriedOnANewOne) {
  AppendEvents(40);
  auto pipe = std::make_shared<Pipe>();
  std::atomic<int> opened{0};
  RunnerReports reports;
  ConnectorSettings s = Settings(4);
  s.write_timeout_ms = 200;
  auto runner = MakeRunner(s, &reports, [pipe, &opened]() -> absl::StatusOr<std::unique_ptr<Sink>> {
    ++opened;
    return std::make_unique<PipeSink>(pipe);
  });
  // The second write made never completes; every other one does.
  AnswerScrambled(pipe, [](size_t write) -> std::optional<SinkResult> {
    if (write == 1) return std::nullopt;
    return SinkResult{};
  });
  runner->Start();
  ASSERT_TRUE(PollUntil([&] {
    absl::MutexLock l(&pipe->mu);
    return Ids(pipe->acknowledged).size() == 40;
  }));
  ASSERT_TRUE(PollUntil([&] { return metrics_->records_delivered.load() >= 40; }));
  runner->Stop();
  StopAnswering();
  EXPECT_EQ(opened.load(), 2);
  EXPECT_FALSE(reports.Has(RunnerEvent::Kind::kFailed));
  EXPECT_GE(Checkpointed().value_or(Position{}), last_appended_);
}

TEST_F(PipelinedWritesTest, ACrashWithWritesOutstandingLosesNothing) {
  AppendEvents(200);
  auto first = std::make_shared<Pipe>();
  RunnerReports r1;
  ConnectorSettings s = Settings(8);
  s.autocommit_records_threshold = 4;
  auto runner = MakeRunner(s, &r1, first);
  runner->Start();
  // Every write made is acknowledged, newest first, except every fifth, which never is: the
  // checkpoint stops before the first of those; the writes after it stay outstanding.
  ASSERT_TRUE(first->WaitWrites(8));
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(first->Complete(3 - i));
  ASSERT_TRUE(first->WaitWrites(12));
  for (size_t i = 11; i > 4; --i) ASSERT_TRUE(first->Complete(i));
  ASSERT_TRUE(PollUntil([&] { return metrics_->records_delivered.load() == 8; }));
  std::optional<Position> cp_before;
  ASSERT_TRUE(PollUntil([&] {
    cp_before = Checkpointed();
    return cp_before.has_value() && *cp_before > Position{};
  }));
  runner->Kill();  // with write 4 (and whatever came after) outstanding: given up, no checkpoint
  std::optional<Position> cp = Checkpointed();
  ASSERT_TRUE(cp.has_value());
  {
    absl::MutexLock l(&first->mu);
    EXPECT_LT(*cp, first->writes[4].records.front().position);
    for (auto& w : first->writes) {
      if (w.done) w.done = nullptr, --first->outstanding;  // the old instance's debts
    }
  }
  runner.reset();

  auto second = std::make_shared<Pipe>();
  RunnerReports r2;
  auto again = MakeRunner(s, &r2, second);
  AnswerScrambled(second);
  again->Start();
  ASSERT_TRUE(PollUntil([&] { return Checkpointed().value_or(Position{}) >= last_appended_; }));
  again->Stop();
  StopAnswering();
  absl::MutexLock l1(&first->mu);
  absl::MutexLock l2(&second->mu);
  // The second run starts right after the checkpoint and together the runs acknowledged every
  // event.
  ASSERT_FALSE(second->writes.empty());
  EXPECT_GT(second->writes.front().records.front().position, *cp);
  std::set<std::string> ids = Ids(first->acknowledged);
  for (const std::string& id : Ids(second->acknowledged)) ids.insert(id);
  EXPECT_EQ(ids.size(), 200u);
}

TEST_F(PipelinedWritesTest, TheTestkitPluginCompletingOutOfOrderThroughTheAbi) {
  auto plugin = testing::LoadOrFail(testing::TestdataPluginPath("testkit"));
  ASSERT_NE(plugin, nullptr);
  ASSERT_TRUE(plugin->pipelined_writes());
  AppendEvents(120);
  auto log = std::make_shared<testing::LogCapture>();
  RunnerReports reports;
  const SinkPlugin* p = plugin.get();
  auto runner = MakeRunner(Settings(6), &reports, [p, log]() {
    return p->Open({"c1"}, {{"target", "t"}, {"mode", "scrambled"}}, log->Fn());
  });
  runner->Start();
  ASSERT_TRUE(PollUntil([&] { return metrics_->records_delivered.load() == 120; }));
  runner->Stop();
  EXPECT_GE(Checkpointed().value_or(Position{}), last_appended_);
  // The plugin saw every record once, in log order.
  std::vector<std::string> records;
  for (const std::string& m : log->Messages()) {
    if (m.starts_with("record ")) records.push_back(m);
  }
  ASSERT_EQ(records.size(), 120u);
  for (int i = 0; i < 120; ++i) {
    EXPECT_NE(records[i].find(absl::StrCat(R"(data={"n":)", i, "}")), std::string::npos)
        << records[i];
  }
}

TEST(MaxInFlightTest, AboveOneOnlyForAPluginThatDeclaresPipelinedWrites) {
  auto testkit = testing::LoadOrFail(testing::TestdataPluginPath("testkit"));
  auto c_sink = testing::LoadOrFail(testing::PluginPath("testc"));
  ASSERT_NE(testkit, nullptr);
  ASSERT_NE(c_sink, nullptr);
  EXPECT_TRUE(CheckMaxInFlight(*testkit, 16).ok());
  EXPECT_TRUE(CheckMaxInFlight(*c_sink, 1).ok());
  absl::Status refused = CheckMaxInFlight(*c_sink, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_NE(refused.message().find("test-c-sink"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("batching:maxInFlight"), std::string::npos) << refused;
}

}  // namespace
}  // namespace esdb
