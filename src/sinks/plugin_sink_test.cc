// The Sink behind a plugin instance: delivery through the real plugins, outcome mapping, and
// survival of plugins that break the completion contract.
#include "sinks/plugin_sink.h"

#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/plugin.h"
#include "sinks/plugin_text.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

using ::esdb::testing::LoadOrFail;
using ::esdb::testing::LogCapture;
using ::esdb::testing::MakeRecord;
using ::esdb::testing::PluginPath;
using ::esdb::testing::TempDir;
using ::esdb::testing::TestdataPluginPath;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

std::unique_ptr<Sink> OpenOrFail(const SinkPlugin& plugin, const SettingsMap& settings,
                                 SinkLogFn log = nullptr) {
  absl::StatusOr<std::unique_ptr<Sink>> sink = plugin.Open({"conn-1"}, settings, std::move(log));
  EXPECT_TRUE(sink.ok()) << sink.status();
  return sink.ok() ? *std::move(sink) : nullptr;
}

std::vector<Record> Batch(int n, uint64_t first_revision = 0) {
  std::vector<Record> records;
  for (int i = 0; i < n; ++i) {
    records.push_back(MakeRecord("orders-1", first_revision + i, 1000 + 10 * (first_revision + i),
                                 "OrderPlaced"));
  }
  return records;
}

int CountContaining(const std::vector<std::string>& lines, const std::string& needle) {
  int n = 0;
  for (const std::string& line : lines) n += line.find(needle) != std::string::npos;
  return n;
}

class TestkitSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = LoadOrFail(TestdataPluginPath("testkit"));
    ASSERT_NE(plugin_, nullptr);
  }
  std::unique_ptr<Sink> Open(const std::string& mode, const std::string& flush = "ok") {
    return OpenOrFail(*plugin_, {{"target", "t"}, {"mode", mode}, {"flushResult", flush}},
                      log_.Fn());
  }
  std::unique_ptr<SinkPlugin> plugin_;
  LogCapture log_;
};

TEST_F(TestkitSinkTest, AWriteThatNeverCompletesTimesOutAndAbandonsTheInstance) {
  plugin_->set_write_timeout(absl::Milliseconds(200));
  std::unique_ptr<Sink> sink = Open("never");
  ASSERT_NE(sink, nullptr);
  absl::Time t0 = absl::Now();
  SinkResult r = sink->Write(Batch(3));
  // To be retried, on a new instance.
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_TRUE(r.instance_lost);
  EXPECT_THAT(r.message, HasSubstr("did not complete within 200ms"));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));
  // Never written to again, and never closed while it may still hold the batch.
  EXPECT_EQ(sink->Write(Batch(1)).outcome, SinkOutcome::kFatal);
  EXPECT_FALSE(sink->Flush().ok());
  sink.reset();
  EXPECT_EQ(CountContaining(log_.Messages(), "close"), 0);
}

TEST_F(TestkitSinkTest, AnInstanceMayHaveAWriteTimeoutOfItsOwn) {
  // The plugin's default stays long; the connector's resilience:writeTimeoutMs is passed at open.
  auto sink = plugin_->Open({"c1"}, {{"target", "t"}, {"mode", "never"}}, log_.Fn(),
                            absl::Milliseconds(150));
  ASSERT_TRUE(sink.ok()) << sink.status();
  absl::Time t0 = absl::Now();
  SinkResult r = (*sink)->Write(Batch(1));
  EXPECT_TRUE(r.instance_lost);
  EXPECT_THAT(r.message, HasSubstr("150ms"));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
}

TEST_F(TestkitSinkTest, APluginMayNameTheRecordItRefuses) {
  std::unique_ptr<Sink> sink = Open("poison");
  ASSERT_NE(sink, nullptr);
  std::vector<Record> batch = Batch(5);
  batch[3].data = R"({"poison":true})";
  SinkResult r = sink->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  ASSERT_TRUE(r.failed_index.has_value());
  EXPECT_EQ(*r.failed_index, 3u);
  // The next write starts without the previous write's answer.
  SinkResult clean = sink->Write(Batch(2));
  EXPECT_EQ(clean.outcome, SinkOutcome::kOk);
  EXPECT_FALSE(clean.failed_index.has_value());
  batch[0].data = "poison";
  SinkResult first = sink->Write(batch);
  ASSERT_TRUE(first.failed_index.has_value());
  EXPECT_EQ(*first.failed_index, 0u);
}

TEST_F(TestkitSinkTest, EveryRecordFieldCrossesTheAbi) {
  std::unique_ptr<Sink> sink = Open("ok");
  ASSERT_NE(sink, nullptr);
  Record r = MakeRecord("orders-7", 3, 4096, "OrderShipped", R"({"id":7})");
  r.position.prepare = 4090;
  r.metadata = R"({"by":"me"})";
  r.content_type = "application/json";
  r.created_unix_us = -5;
  SinkResult result = sink->Write({&r, 1});
  EXPECT_EQ(result.outcome, SinkOutcome::kOk);
  EXPECT_THAT(log_.Messages(),
              Contains("record stream=orders-7 revision=3 commit=4096 prepare=4090 created=-5 "
                       "id=0c7d2f4e-1b2a-4c3d-9e8f-102030405060 type=OrderShipped "
                       "contentType=application/json data={\"id\":7} metadata={\"by\":\"me\"}"));
}

TEST_F(TestkitSinkTest, RecordsArriveInOrderAndEmptyBatchesSkipThePlugin) {
  std::unique_ptr<Sink> sink = Open("ok");
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->Write({}).outcome, SinkOutcome::kOk);
  EXPECT_EQ(CountContaining(log_.Messages(), "record "), 0);
  std::vector<Record> records = Batch(3, 10);
  EXPECT_EQ(sink->Write(records).outcome, SinkOutcome::kOk);
  std::vector<std::string> got;
  for (const std::string& m : log_.Messages()) {
    if (m.rfind("record ", 0) == 0) got.push_back(m.substr(0, m.find(" commit=")));
  }
  EXPECT_THAT(
      got, ElementsAre("record stream=orders-1 revision=10", "record stream=orders-1 revision=11",
                       "record stream=orders-1 revision=12"));
}

TEST_F(TestkitSinkTest, RetryAndFatalCarryThePluginsMessage) {
  std::vector<Record> records = Batch(1);
  std::unique_ptr<Sink> retry = Open("retry");
  ASSERT_NE(retry, nullptr);
  SinkResult r = retry->Write(records);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_EQ(r.message, "testkit-sink: target: busy, try later");

  std::unique_ptr<Sink> fatal = Open("fatal");
  ASSERT_NE(fatal, nullptr);
  r = fatal->Write(records);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_EQ(r.message, "testkit-sink: target: rejected the batch");
}

TEST(PluginTextTest, NamesThePluginOnce) {
  EXPECT_EQ(WithPluginName("a-sink", "disk full"), "a-sink: disk full");
  EXPECT_EQ(WithPluginName("a-sink", "a-sink: disk full"), "a-sink: disk full");
  EXPECT_EQ(WithPluginName("a-sink", "a-sink:disk full"), "a-sink: disk full");
  // Only the name itself followed by ':' counts.
  EXPECT_EQ(WithPluginName("a-sink", "a-sinks: x"), "a-sink: a-sinks: x");
  EXPECT_EQ(WithPluginName("a-sink", "a-sink x"), "a-sink: a-sink x");
  EXPECT_EQ(WithoutPluginName("a-sink", "a-sink:"), "");
}

TEST_F(TestkitSinkTest, APluginThatNamesItselfIsNotNamedTwice) {
  std::vector<Record> records = Batch(1);
  std::unique_ptr<Sink> sink = Open("self-named");
  ASSERT_NE(sink, nullptr);
  SinkResult r = sink->Write(records);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_EQ(r.message, "testkit-sink: target: busy");
}

TEST_F(TestkitSinkTest, LongOrMultiLineMessagesBecomeAShortEscapedExcerpt) {
  std::vector<Record> records = Batch(1);
  std::unique_ptr<Sink> sink = Open("chatty");
  ASSERT_NE(sink, nullptr);
  SinkResult r = sink->Write(records);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_LT(r.message.size(), 600u);
  EXPECT_EQ(r.message.find_first_of("\r\n"), std::string::npos) << r.message;
  EXPECT_THAT(r.message, ::testing::StartsWith("testkit-sink: target said:\\n<html>line"));
  EXPECT_THAT(r.message, ::testing::EndsWith("..."));
}

TEST_F(TestkitSinkTest, UnknownStatusIsFatalWithAClearMessage) {
  std::unique_ptr<Sink> sink = Open("bad-status");
  ASSERT_NE(sink, nullptr);
  SinkResult r = sink->Write(Batch(2));
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, AllOf(HasSubstr("testkit-sink"), HasSubstr("status 42"),
                               HasSubstr("not a valid write outcome; treated as FATAL"),
                               HasSubstr("this status does not exist")));
}

TEST_F(TestkitSinkTest, InvalidConfigFromWriteIsFatal) {
  std::unique_ptr<Sink> sink = Open("invalid-config");
  ASSERT_NE(sink, nullptr);
  SinkResult r = sink->Write(Batch(1));
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("status 3 (INVALID_CONFIG)"));
}

TEST_F(TestkitSinkTest, SecondCompletionIsIgnoredAndReported) {
  std::unique_ptr<Sink> sink = Open("twice");
  ASSERT_NE(sink, nullptr);
  for (int i = 0; i < 3; ++i) {
    SinkResult r = sink->Write(Batch(1, i));
    EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;  // the first call counts, not the FATAL
  }
  EXPECT_EQ(CountContaining(log_.Messages(), "reported the outcome of one write more than once"),
            3);
}

// Pipelined writes (the testkit declares them): each write's first completion decides it, a
// second one is logged and ignored, and a completion after the host gave the instance up too.
TEST_F(TestkitSinkTest, PipelinedSecondCompletionsAreIgnoredAndReported) {
  std::unique_ptr<Sink> sink = Open("twice");
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->pipelined());
  std::vector<SinkResult> results;
  for (int i = 0; i < 3; ++i) {
    sink->Submit(std::make_shared<const std::vector<Record>>(Batch(1, i)),
                 [&results](SinkResult r) { results.push_back(std::move(r)); });
  }
  ASSERT_EQ(results.size(), 3u);
  for (const SinkResult& r : results) EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
  EXPECT_EQ(CountContaining(log_.Messages(), "reported the outcome of one write more than once"),
            3);
}

TEST_F(TestkitSinkTest, APipelinedCompletionAfterTheInstanceWasAbandonedIsReported) {
  std::unique_ptr<Sink> holder = Open("held");
  ASSERT_NE(holder, nullptr);
  int results = 0;
  holder->Submit(std::make_shared<const std::vector<Record>>(Batch(2)),
                 [&results](SinkResult) { ++results; });
  holder->Abandon();
  std::unique_ptr<Sink> releaser = Open("release");
  ASSERT_NE(releaser, nullptr);
  EXPECT_EQ(releaser->Write(Batch(1, 5)).outcome, SinkOutcome::kOk);  // fires the held one
  EXPECT_EQ(results, 0);  // given up: its outcome no longer counts
  EXPECT_EQ(CountContaining(log_.Messages(), "after the write timed out"), 1);
}

TEST_F(TestkitSinkTest, CompletionFromAnotherThread) {
  std::unique_ptr<Sink> sink = Open("thread");
  ASSERT_NE(sink, nullptr);
  for (int i = 0; i < 50; ++i) {
    SinkResult r = sink->Write(Batch(2, 2 * i));
    ASSERT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
  }
}

TEST_F(TestkitSinkTest, StaleCompletionDuringTheNextWriteIsNotTakenForIt) {
  std::unique_ptr<Sink> sink = Open("late-twice");
  ASSERT_NE(sink, nullptr);
  // From the second write on, the plugin replays the previous write's completion with FATAL
  // while the new write is in flight; only the new write's own completion may decide it.
  for (int i = 0; i < 5; ++i) {
    SinkResult r = sink->Write(Batch(1, i));
    EXPECT_EQ(r.outcome, SinkOutcome::kOk) << "write " << i << ": " << r.message;
  }
  EXPECT_EQ(CountContaining(log_.Messages(), "more than once"), 4);
  sink.reset();  // close() fires the last stale completion: it must be dropped without harm
  EXPECT_EQ(CountContaining(log_.Messages(), "more than once"), 5);
}

TEST_F(TestkitSinkTest, FlushOutcomes) {
  std::unique_ptr<Sink> ok = Open("ok", "ok");
  ASSERT_NE(ok, nullptr);
  EXPECT_TRUE(ok->Flush().ok());
  std::unique_ptr<Sink> retry = Open("ok", "retry");
  ASSERT_NE(retry, nullptr);
  absl::Status s = retry->Flush();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("testkit-sink: flush failed with RETRY: disk busy"));
  std::unique_ptr<Sink> fatal = Open("ok", "fatal");
  ASSERT_NE(fatal, nullptr);
  EXPECT_EQ(fatal->Flush().code(), absl::StatusCode::kInternal);
}

TEST_F(TestkitSinkTest, DestructionClosesTheInstance) {
  std::unique_ptr<Sink> sink = Open("ok");
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(CountContaining(log_.Messages(), "close"), 0);
  sink.reset();
  EXPECT_EQ(log_.Messages().back(), "close");
}

TEST(CSinkTest, LoadsAndAppendsOneLinePerRecord) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("testc"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->name(), "test-c-sink");
  TempDir dir;
  std::string path = dir.File("out.txt");
  const std::string header = "test-c-sink output of connector conn-1\n";
  {
    std::unique_ptr<Sink> sink = OpenOrFail(*plugin, {{"path", path}});
    ASSERT_NE(sink, nullptr);
    std::vector<Record> records = {MakeRecord("a", 0, 100, "Created"),
                                   MakeRecord("b-2", 7, 18446744073709551615ull, "Moved")};
    EXPECT_EQ(sink->Write(records).outcome, SinkOutcome::kOk);
    // Flushed per batch: readable before the sink is closed.
    EXPECT_EQ(testing::ReadFile(path),
              header + "a 0 100 Created\nb-2 7 18446744073709551615 Moved\n");
  }
  std::unique_ptr<Sink> again = OpenOrFail(*plugin, {{"path", path}});
  ASSERT_NE(again, nullptr);
  std::vector<Record> more = {MakeRecord("c", 1, 200, "Deleted"),
                              MakeRecord("forged\nx 9 9", 2, 300, "T\r")};
  EXPECT_EQ(again->Write(more).outcome, SinkOutcome::kOk);
  EXPECT_EQ(testing::ReadFile(path),
            header +
                "a 0 100 Created\nb-2 7 18446744073709551615 Moved\nc 1 200 Deleted\n"
                "forged?x 9 9 2 300 T?\n");
}

TEST(CSinkTest, UnopenablePathIsInvalidConfig) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("testc"));
  ASSERT_NE(plugin, nullptr);
  auto sink = plugin->Open({"c"}, {{"path", "/nonexistent/dir/out.txt"}}, nullptr);
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sink.status().message(), HasSubstr("path: cannot open '/nonexistent/dir/out.txt'"));
}

// Like file-sink, the C sink appends only to a file it created for the same connector, and
// leaves anything else exactly as it was.
TEST(CSinkTest, RefusesFilesItDidNotWrite) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("testc"));
  ASSERT_NE(plugin, nullptr);
  TempDir dir;
  const std::string foreign = dir.File("authorized_keys");
  testing::WriteFile(foreign, "ssh-ed25519 AAAA me@host\n");
  auto sink = plugin->Open({"conn-1"}, {{"path", foreign}}, nullptr);
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sink.status().message(), HasSubstr("was not written by test-c-sink"));
  EXPECT_EQ(testing::ReadFile(foreign), "ssh-ed25519 AAAA me@host\n");

  const std::string own = dir.File("out.txt");
  ASSERT_NE(OpenOrFail(*plugin, {{"path", own}}), nullptr);  // created for conn-1
  auto other = plugin->Open({"conn-2"}, {{"path", own}}, nullptr);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);

  auto device = plugin->Open({"conn-1"}, {{"path", "/dev/null"}}, nullptr);
  EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(device.status().message(), HasSubstr("is not a regular file"));

  const std::string bad = dir.File("a\nb");
  EXPECT_THAT(plugin->Validate({{"path", bad}}).message(),
              HasSubstr("path: contains a control character"));
  EXPECT_EQ(plugin->Open({"conn-1"}, {{"path", bad}}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NullSinkTest, AcknowledgesEverything) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("null"));
  ASSERT_NE(plugin, nullptr);
  std::unique_ptr<Sink> a = OpenOrFail(*plugin, {});
  std::unique_ptr<Sink> b = OpenOrFail(*plugin, {});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->Write(Batch(100)).outcome, SinkOutcome::kOk);
  EXPECT_EQ(b->Write(Batch(1)).outcome, SinkOutcome::kOk);
  EXPECT_TRUE(a->Flush().ok());  // no flush() in the table: nothing to do
}

TEST(LoggerSinkTest, LogsOneLinePerRecordAtTheChosenLevel) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("logger"));
  ASSERT_NE(plugin, nullptr);
  LogCapture log;
  std::unique_ptr<Sink> sink = OpenOrFail(*plugin, {{"level", "warn"}}, log.Fn());
  ASSERT_NE(sink, nullptr);
  std::string long_stream(2000, 's');
  std::vector<Record> records = {MakeRecord("orders-1", 4, 1234, "OrderPlaced"),
                                 MakeRecord(long_stream, 0, 1300, "Long")};
  EXPECT_EQ(sink->Write(records).outcome, SinkOutcome::kOk);
  EXPECT_THAT(log.Lines(),
              ElementsAre(Pair(ESDB_SINK_LOG_WARN,
                               "stream=orders-1 revision=4 position=1234 type=OrderPlaced"),
                          Pair(ESDB_SINK_LOG_WARN,
                               "stream=" + long_stream + " revision=0 position=1300 type=Long")));
}

// Stream names and event types are the appender's text: a line break in them must not forge a
// line in the node's log, and an escape must not be mistaken for text.
TEST(LoggerSinkTest, EscapesControlCharactersSoEachRecordIsOneLine) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("logger"));
  ASSERT_NE(plugin, nullptr);
  LogCapture log;
  std::unique_ptr<Sink> sink = OpenOrFail(*plugin, {}, log.Fn());
  ASSERT_NE(sink, nullptr);
  std::vector<Record> records = {
      MakeRecord("a\n[2026-01-01 00:00:00.000] [error] forged", 1, 10, "T\r\t\x1b[31m\x7f"),
      MakeRecord("back\\slash \xc2\x85nel caf\xc3\xa9", 2, 20, "\xc2\x9f")};
  EXPECT_EQ(sink->Write(records).outcome, SinkOutcome::kOk);
  EXPECT_THAT(
      log.Messages(),
      ElementsAre(
          "stream=a\\x0a[2026-01-01 00:00:00.000] [error] forged revision=1 position=10 "
          "type=T\\x0d\\x09\\x1b[31m\\x7f",
          "stream=back\\\\slash \\u0085nel caf\xc3\xa9 revision=2 position=20 type=\\u009f"));
}

TEST(LoggerSinkTest, DefaultLevelIsInfo) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("logger"));
  ASSERT_NE(plugin, nullptr);
  LogCapture log;
  std::unique_ptr<Sink> sink = OpenOrFail(*plugin, {}, log.Fn());
  ASSERT_NE(sink, nullptr);
  EXPECT_THAT(log.Lines(), IsEmpty());
  std::vector<Record> records = Batch(1);
  EXPECT_EQ(sink->Write(records).outcome, SinkOutcome::kOk);
  ASSERT_EQ(log.Lines().size(), 1u);
  EXPECT_EQ(log.Lines()[0].first, ESDB_SINK_LOG_INFO);
}

}  // namespace
}  // namespace esdb
