// Crash torture: 100,000 events are appended over HTTP from a second thread while a file-sink
// connector delivers them, and the dev node is SIGKILLed at 20 random moments (seeded; the seed
// is printed and ESDB_E2E_SEED replays it) and restarted each time. At the end the output must
// hold every appended event, in log order except right after a crash, where delivery restarts
// exactly after the last checkpoint and replays no more than the checkpoint policy allows.
//
// fsync is off for speed, which costs nothing here: SIGKILL ends the process, not the machine,
// so every write() the sink made is in the page cache and survives; fsync only matters for
// power loss. (The log is SQLite with synchronous=NORMAL in WAL mode: also crash-safe.)
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crash_check.h"
#include "devnode/log_node.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "sink_output.h"

namespace esdb::e2e {
namespace {

using nlohmann::json;

constexpr int kEvents = 100000;
constexpr int kStreams = 10;
constexpr int kEventsPerAppend = 2000;
constexpr int kKills = 20;
constexpr int kRecordsThreshold = 1000;  // autocommit:recordsThreshold
constexpr int kBatchSize = 100;          // batching:batchSize
// The runner starts a checkpoint after the batch with which at least kRecordsThreshold records
// have been acknowledged since the last one: it covers fewer than kRecordsThreshold + kBatchSize
// records. The checkpoint is appended in the background, and while that append is in flight
// delivery goes on until another kRecordsThreshold records are acknowledged (fewer than
// kRecordsThreshold + kBatchSize with the batch that passes it, written but perhaps not
// acknowledged when the crash came), then waits for it (docs/architecture.md: a crash replays
// at most about two checkpoints' worth). A crash while the append is in flight finds the one
// before it in the log, so a replay is at most 2 * (kRecordsThreshold + kBatchSize) records.
constexpr size_t kReplayBound = 2 * (kRecordsThreshold + kBatchSize);
// Appends are paced so that they spread over the kills instead of finishing before the first.
constexpr absl::Duration kAppendPeriod = absl::Milliseconds(200);
constexpr int kMinKillDelayMs = 0;
constexpr int kMaxKillDelayMs = 600;
constexpr char kConnector[] = "torture";
constexpr uint32_t kIdTag = 0x70c7u;

std::string StreamName(int i) { return absl::StrCat("torture-", i); }

uint64_t Seed() {
  uint64_t seed = 0;
  const char* env = std::getenv("ESDB_E2E_SEED");
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
  return std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32);
}

// Reads the connector's last checkpoint straight from the SQLite log of a dead node.
absl::StatusOr<std::optional<uint64_t>> ReadCheckpoint(const std::filesystem::path& db) {
  auto node = devnode::LogNode::OpenSqlite(db.string());
  if (!node.ok()) return node.status();
  auto events = (*node)->ReadStream(absl::StrCat("$connectors/", kConnector, "/checkpoints"),
                                    devnode::ReadDirection::kBackwards, ESDB_REVISION_END, 1);
  (*node)->Shutdown();
  if (!events.ok()) {
    if (absl::IsNotFound(events.status())) return std::nullopt;
    return events.status();
  }
  if (events->empty()) return std::nullopt;
  json data = json::parse(events->front().data, nullptr, false);
  if (!data.is_object() || !data.contains("position") || !data["position"].is_object()) {
    return absl::DataLossError(absl::StrCat("checkpoint event: ", events->front().data));
  }
  return data["position"].value("commit", uint64_t{0});
}

// Appends kEvents events in batches to kStreams streams from its own thread and client, riding
// out node crashes: an append whose outcome is unknown (the node died mid-request) is resolved
// by reading the stream's last event, which works because every append names the expected
// revision and this thread is the streams' only writer.
class Appender {
 public:
  explicit Appender(uint16_t port) : port_(port) {}
  ~Appender() { Join(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Join() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  // The node is down (between a kill and the next ready restart) or up again.
  void SetNodeUp(bool up) {
    absl::MutexLock lock(&mu_);
    up_ = up;
  }
  // Blocks until one more append has been acknowledged, the appender finished, or `timeout`.
  void AwaitNextAppend(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const int64_t seen = batches_done_;
    auto moved = [&]()
                     ABSL_SHARED_LOCKS_REQUIRED(mu_) { return batches_done_ != seen || finished_; };
    mu_.AwaitWithTimeout(absl::Condition(&moved), timeout);
  }

  bool finished() const {
    absl::MutexLock lock(&mu_);
    return finished_;
  }
  std::string error() const {
    absl::MutexLock lock(&mu_);
    return error_;
  }
  uint64_t last_position() const {
    absl::MutexLock lock(&mu_);
    return last_position_;
  }
  // Event ids of every acknowledged append (valid once finished).
  const std::vector<std::string>& ids() const { return ids_; }
  int ambiguous() const { return ambiguous_; }

 private:
  enum class Outcome { kCommitted, kNotCommitted, kUnknown };

  void Run() {
    NodeHttp client(port_, /*timeout_ms=*/30000);
    std::vector<int64_t> last_revision(kStreams, -1);
    const absl::Time start = absl::Now();
    const int batches = kEvents / kEventsPerAppend;
    for (int b = 0; b < batches; ++b) {
      absl::SleepFor(start + b * kAppendPeriod - absl::Now());  // pacing, not synchronisation
      const int s = b % kStreams;
      std::vector<NewEvent> events;
      for (int i = 0; i < kEventsPerAppend; ++i) {
        const uint64_t n = static_cast<uint64_t>(b) * kEventsPerAppend + i;
        // ~200 bytes per event on the wire: id, type and a padded payload.
        events.push_back({TestEventId(kIdTag, n), "TortureEvent",
                          json{{"n", n}, {"pad", std::string(110, 'a' + n % 26)}}});
      }
      const std::string body = EventsBody(events);
      std::optional<uint64_t> position;
      while (!position) {
        if (!WaitUntilUp()) return Finish("stopped");
        Reply r = client.Call("POST", "/streams/" + StreamName(s), body,
                              "application/vnd.eventstore.events+json",
                              {{"ES-ExpectedVersion", std::to_string(last_revision[s])}});
        if (r.status == 201) {
          position = r.json["position"].get<uint64_t>();
          break;
        }
        if (r.status != 0 && r.status < 500) {
          return Finish(absl::StrCat("append to ", StreamName(s), " got ", r.status, ": ", r.body));
        }
        // Died mid-request (or refused while restarting): did it commit?
        ++ambiguous_;
        while (true) {
          if (!WaitUntilUp()) return Finish("stopped");
          Outcome o = Resolve(client, s, last_revision[s], events.back().event_id, position);
          if (o == Outcome::kCommitted || o == Outcome::kNotCommitted) break;
          absl::SleepFor(absl::Milliseconds(20));  // up, yet unreachable: a transient error
        }
        if (!error().empty()) return;
      }
      last_revision[s] += kEventsPerAppend;
      for (const NewEvent& e : events) ids_.push_back(e.event_id);
      absl::MutexLock lock(&mu_);
      last_position_ = std::max(last_position_, *position);
      ++batches_done_;
    }
    Finish("");
  }

  // Reads the stream's last event to learn whether the batch ending in `last_id` was written.
  Outcome Resolve(NodeHttp& client, int s, int64_t before, const std::string& last_id,
                  std::optional<uint64_t>& position) {
    Reply r = client.Get(absl::StrCat("/streams/", StreamName(s), "?direction=backwards&count=1"));
    if (r.status == 0 || r.status >= 500) return Outcome::kUnknown;  // down again; ask later
    if (r.status == 404 && before == -1) return Outcome::kNotCommitted;
    if (r.status == 200 && r.json["events"].size() == 1) {
      const json& e = r.json["events"][0];
      const int64_t revision = e["eventNumber"].get<int64_t>();
      if (revision == before + kEventsPerAppend && e["eventId"] == last_id) {
        position = e["position"].get<uint64_t>();
        return Outcome::kCommitted;
      }
      if (revision == before) return Outcome::kNotCommitted;
    }
    Finish(absl::StrCat("cannot tell whether an append to ", StreamName(s),
                        " committed; stream read: ", r.status, " ", r.body.substr(0, 300)));
    return Outcome::kCommitted;  // ends the retry loop; the error ends the thread
  }

  // Waits while the node is down (the killer marks it down before each SIGKILL, so a request
  // the kill broke finds it down); false when asked to stop.
  bool WaitUntilUp() {
    absl::MutexLock lock(&mu_);
    auto up = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || up_; };
    mu_.Await(absl::Condition(&up));
    return !stop_;
  }

  void Finish(std::string error) {
    absl::MutexLock lock(&mu_);
    if (error_.empty()) error_ = std::move(error);
    finished_ = true;
  }

  const uint16_t port_;
  std::thread thread_;
  std::vector<std::string> ids_;  // appender thread only until finished
  int ambiguous_ = 0;             // appender thread only

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool up_ ABSL_GUARDED_BY(mu_) = true;
  int64_t batches_done_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_position_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::string error_ ABSL_GUARDED_BY(mu_);
};

class CrashTortureTest : public DevnodeTest {};

TEST_F(CrashTortureTest, SigkillDuringDeliveryLosesNothingAndReplaysOnlyFromCheckpoints) {
  const uint64_t seed = Seed();
  std::cout << "crash torture seed: " << seed << " (replay with ESDB_E2E_SEED=" << seed << ")\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> kill_delay_ms(kMinKillDelayMs, kMaxKillDelayMs);
  std::bernoulli_distribution after_an_append(0.7);
  std::uniform_int_distribution<int> short_delay_ms(0, 20);
  const absl::Time t0 = absl::Now();

  const auto out = Path("out.jsonl");
  Reply created = http().Post(
      absl::StrCat("/connectors/", kConnector),
      FileSinkSettings(out,
                       absl::StrCat(R"(,"fsync":"false","autocommit:recordsThreshold":")",
                                    kRecordsThreshold, R"(","batching:batchSize":")", kBatchSize,
                                    R"(","subscription:filter:scope":"stream",)"
                                    R"("subscription:filter:filterType":"prefix",)"
                                    R"("subscription:filter:expression":"torture-")")));
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(http().Post(absl::StrCat("/connectors/", kConnector, "/enable")).status, 200);
  ASSERT_TRUE(WaitForState(kConnector, "RUNNING"));

  Appender appender(node().port());
  appender.Start();
  absl::Cleanup join = [&] { appender.Join(); };

  std::vector<CrashPoint> crashes;
  for (int k = 0; k < kKills; ++k) {
    // The random moment: a delay after the node became ready, and most of the time also just
    // after an append was acknowledged, while the connector is busy delivering it (it needs
    // ~15 ms for one append's 2000 events, so a short delay lands inside that window).
    absl::SleepFor(absl::Milliseconds(kill_delay_ms(rng)));
    if (after_an_append(rng)) {
      appender.AwaitNextAppend(absl::Seconds(2));
      absl::SleepFor(absl::Milliseconds(short_delay_ms(rng)));
    } else {
      (void)short_delay_ms(rng);  // keep the draws aligned whatever the branch
    }
    appender.SetNodeUp(false);
    CrashPoint crash;
    crash.appended_position = appender.last_position();
    http_.reset();
    auto killed = node().Kill();
    ASSERT_TRUE(killed.ok()) << killed.status();
    ASSERT_EQ(killed->signal, SIGKILL) << "the node had already ended: " << killed->ToString();
    const OutputShape shape = InspectSinkOutput(out);
    crash.lines = shape.lines;
    crash.partial_bytes = shape.partial_tail_bytes;
    crash.last_line_position = shape.last_position.value_or(0);
    auto checkpoint = ReadCheckpoint(node().db_path());
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    crash.checkpoint = *checkpoint;
    crashes.push_back(crash);
    std::cout << "kill " << k + 1 << " at +" << absl::FormatDuration(absl::Now() - t0) << ": "
              << crash.lines << " lines" << (crash.partial_bytes > 0 ? " + a partial one" : "")
              << ", last " << crash.last_line_position << ", appended up to "
              << crash.appended_position << ", checkpoint "
              << (crash.checkpoint ? std::to_string(*crash.checkpoint) : "none") << "\n";
    ASSERT_NO_FATAL_FAILURE(StartNode());
    appender.SetNodeUp(true);
  }
  const absl::Duration kill_phase = absl::Now() - t0;

  ASSERT_TRUE(WaitUntil([&] { return appender.finished(); }, absl::Seconds(120)))
      << "the appender did not finish";
  appender.Join();
  ASSERT_EQ(appender.error(), "");
  ASSERT_EQ(appender.ids().size(), static_cast<size_t>(kEvents));
  const uint64_t last = appender.last_position();
  std::optional<uint64_t> delivered;
  ASSERT_TRUE(WaitUntil(
      [&] {
        delivered = LastCompletePosition(out);
        return delivered && *delivered >= last;
      },
      absl::Seconds(120), absl::Milliseconds(50)))
      << "the connector never delivered position " << last
      << "; last delivered: " << (delivered ? std::to_string(*delivered) : "none");
  ASSERT_NO_FATAL_FAILURE(StopNode());

  // ---- Verification.
  auto final_output = ReadSinkOutput(out);
  ASSERT_TRUE(final_output.ok()) << final_output.status();
  const std::vector<OutputLine>& lines = final_output->lines;
  EXPECT_EQ(final_output->partial_tail_bytes, 0u) << "a partial line after a clean stop";

  CrashReport report = CheckCrashOutput(lines, crashes, appender.ids(), kReplayBound);
  EXPECT_THAT(report.problems, ::testing::IsEmpty());
  EXPECT_EQ(lines.size(), kEvents + report.replayed) << "duplicates other than crash replays";

  std::cout << "crash torture: " << kEvents << " events, " << crashes.size() << " kills in "
            << absl::FormatDuration(kill_phase) << ", total "
            << absl::FormatDuration(absl::Now() - t0) << "; " << lines.size() << " lines written, "
            << report.replayed << " replayed (max " << report.max_replay
            << " after one crash, bound " << kReplayBound << "); " << report.cut_kills
            << " kills cut a line, " << report.busy_kills << " came while delivery was behind; "
            << appender.ambiguous() << " appends interrupted\n";
}

}  // namespace
}  // namespace esdb::e2e
