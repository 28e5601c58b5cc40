#include "delivery/runner.h"

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "delivery/pools.h"
#include "delivery/runner_test_util.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

// A scripted sink: keeps what it acknowledged; can answer RETRY or FATAL on demand.
struct SinkScript {
  absl::Mutex mu;
  std::vector<Record> accepted ABSL_GUARDED_BY(mu);
  int retry_every = 0;   // every n-th write answers RETRY
  std::string fatal_on_type;  // a batch containing this event type answers FATAL
  int writes ABSL_GUARDED_BY(mu) = 0;
  int always_retry = 0;  // non-zero: every write answers RETRY
  size_t stall_after = 0;  // non-zero: answer RETRY once this many records were accepted
  bool hold ABSL_GUARDED_BY(mu) = false;  // writes wait while set

  size_t Count() {
    absl::MutexLock l(&mu);
    return accepted.size();
  }
  void Hold(bool on) {
    absl::MutexLock l(&mu);
    hold = on;
  }
  // Waits until a write has begun (or a 20 s deadline passes).
  bool AwaitWriting() {
    absl::MutexLock l(&mu);
    auto writing = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return writes > 0; };
    return mu.AwaitWithTimeout(absl::Condition(&writing), absl::Seconds(20));
  }
  // Waits until `n` records were accepted (or a 20 s deadline passes).
  bool WaitFor(size_t n) {
    absl::MutexLock l(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return accepted.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(20));
  }
};

class ScriptedSink : public Sink {
 public:
  explicit ScriptedSink(std::shared_ptr<SinkScript> s) : s_(std::move(s)) {}
  SinkResult Write(std::span<const Record> records) override {
    absl::MutexLock l(&s_->mu);
    ++s_->writes;
    s_->mu.Await(absl::Condition(+[](bool* hold) { return !*hold; }, &s_->hold));
    if (s_->always_retry) return {SinkOutcome::kRetry, "always busy"};
    if (s_->stall_after && s_->accepted.size() >= s_->stall_after) return {SinkOutcome::kRetry, "stalled"};
    if (s_->retry_every && s_->writes % s_->retry_every == 0) return {SinkOutcome::kRetry, "busy"};
    for (const Record& r : records) {
      if (!s_->fatal_on_type.empty() && r.event_type == s_->fatal_on_type) {
        return {SinkOutcome::kFatal, "poison event"};
      }
    }
    s_->accepted.insert(s_->accepted.end(), records.begin(), records.end());
    return {};
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  std::shared_ptr<SinkScript> s_;
};

using Events = RunnerReports;


class RunnerTest : public ::testing::Test {
 protected:
  void AppendEvents(int n, const std::string& stream_prefix = "orders-",
                    const std::string& type = "Placed") {
    std::vector<EventData> batch;
    for (int i = 0; i < n; ++i) {
      EventData e;
      e.event_type = type;
      e.data = absl::StrCat(R"({"n":)", appended_++, "}");
      batch.push_back(e);
      if (batch.size() == 100 || i == n - 1) {
        auto r = client_.Append(absl::StrCat(stream_prefix, i % 7), ESDB_EXPECT_ANY, batch);
        ASSERT_TRUE(r.ok());
        last_appended_ = r->position;
        batch.clear();
      }
    }
  }

  std::unique_ptr<Runner> MakeRunner(std::shared_ptr<SinkScript> script, ConnectorSettings s,
                                     Events* events, std::string host = "h1",
                                     int64_t epoch = 0) {
    RunnerOptions o;
    o.connector_id = "c1";
    o.host_id = host;
    o.settings = s;
    o.epoch = epoch;
    o.node = runner_node_ != nullptr ? runner_node_ : &client_;
    o.open_sink = [script]() -> absl::StatusOr<std::unique_ptr<Sink>> {
      return std::make_unique<ScriptedSink>(script);
    };
    o.on_event = events->Collector();
    o.scan_checkpoint_interval = 50;
    o.queue_capacity = queue_capacity_;
    o.metrics = metrics_;
    o.pools = runner_pools_;
    return std::make_unique<Runner>(std::move(o));
  }

  // Appends the library's own bookkeeping, as other connectors and hosts write it: checkpoints,
  // lifecycle events, heartbeats.
  void AppendLibraryEvents(int n) {
    const char* streams[] = {"$connectors/other/checkpoints", "$connectors/other",
                             "$connectors-hosts", "$connectors"};
    const char* types[] = {"ConnectorCheckpoint", "ConnectorRunning", "HostHeartbeat",
                           "ConnectorIndexed"};
    for (int i = 0; i < n; ++i) {
      EventData e;
      e.event_type = types[i % 4];
      e.data = "{}";
      ASSERT_TRUE(client_.Append(streams[i % 4], ESDB_EXPECT_ANY, std::span<const EventData>(&e, 1)).ok());
    }
  }

  // Revision of the last checkpoint event (-1 when none).
  int64_t CheckpointRevision() {
    int64_t revision = -1;
    (void)client_.ReadStream("$connectors/c1/checkpoints", Direction::kBackwards,
                             ESDB_REVISION_END, 1, [&](const Record& r) {
                               revision = static_cast<int64_t>(r.revision);
                               return false;
                             });
    return revision;
  }

  // Polls `done` for up to 20 s: the runner's position and the checkpoint stream are state to
  // look at, not events a test can wait on.
  static bool PollUntil(const std::function<bool()>& done) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  void ExpectNoCheckpointOverLibraryEvents(ConnectorSettings s, const std::string& unmatched);
  // Lets the held sink go, and once the runner has stopped: exactly `n` records written, in log
  // order, the last one the last event appended.
  void ReleaseAndExpectAllDelivered(SinkScript& script, Runner& runner, Events& events, size_t n);
  void ExpectEverythingQueuedDuringAHungWriteDelivered(size_t capacity);

  static ConnectorSettings Settings() {
    ConnectorSettings s = QuickRunnerSettings();
    return s;
  }

  std::optional<Checkpoint> LastCheckpoint() {
    CheckpointStore store(&client_, "c1", 0, "reader");
    auto c = store.Load();
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::nullopt;
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
  std::shared_ptr<ConnectorMetrics> metrics_ = std::make_shared<ConnectorMetrics>();
  int appended_ = 0;
  Position last_appended_;
  size_t queue_capacity_ = 20000;
  const NodeClient* runner_node_ = nullptr;  // the runner's node, when not client_
  DeliveryPools* runner_pools_ = nullptr;     // the runner's pools, when not its own
};

void ExpectInLogOrder(const std::vector<Record>& records) {
  for (size_t i = 1; i < records.size(); ++i) {
    ASSERT_LT(records[i - 1].position, records[i].position) << "at " << i;
  }
}

void RunnerTest::ReleaseAndExpectAllDelivered(SinkScript& script, Runner& runner, Events& events,
                                              size_t n) {
  script.Hold(false);
  ASSERT_TRUE(script.WaitFor(n));
  runner.Stop();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kStopped));
  absl::MutexLock l(&script.mu);
  ASSERT_EQ(script.accepted.size(), n);
  ExpectInLogOrder(script.accepted);
  EXPECT_EQ(script.accepted.back().position, last_appended_);
}

TEST_F(RunnerTest, DeliversEverythingInOrderAndNeverItsOwnStreams) {
  AppendEvents(500);
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kRunning));
  AppendEvents(500);  // live, after catch-up
  ASSERT_TRUE(script->WaitFor(1000));
  runner->Stop();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kStopped));
  absl::MutexLock l(&script->mu);
  ASSERT_EQ(script->accepted.size(), 1000u);
  ExpectInLogOrder(script->accepted);
  for (const Record& r : script->accepted) EXPECT_FALSE(r.stream.starts_with("$"));
  // The final checkpoint covers the last delivered record (and may go beyond it, up to the end
  // of the scanned log, which holds the connector's own checkpoint events).
  EXPECT_GE(LastCheckpoint()->position, script->accepted.back().position);
}

TEST_F(RunnerTest, ResumesFromTheCheckpointAfterACrashWithNoGap) {
  AppendEvents(1000);
  auto first = std::make_shared<SinkScript>();
  first->stall_after = 450;  // the sink stops acknowledging mid-way; then the runner "crashes"
  Events e1;
  auto runner = MakeRunner(first, Settings(), &e1);
  runner->Start();
  ASSERT_TRUE(first->WaitFor(450));
  runner->Kill();  // no final checkpoint: like SIGKILL
  auto cp = LastCheckpoint();
  ASSERT_TRUE(cp.has_value());

  auto second = std::make_shared<SinkScript>();
  Events e2;
  auto again = MakeRunner(second, Settings(), &e2);
  again->Start();
  AppendEvents(10);
  // Wait until the second run has delivered the very last event.
  {
    absl::MutexLock l(&second->mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(second->mu) {
      return !second->accepted.empty() && second->accepted.back().position == last_appended_;
    };
    ASSERT_TRUE(second->mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(20)));
  }
  again->Stop();

  absl::MutexLock l1(&first->mu);
  absl::MutexLock l2(&second->mu);
  // The second run starts right after the checkpoint, and together the runs saw every event:
  // no gap, duplicates only after the checkpoint.
  EXPECT_GT(second->accepted.front().position, cp->position);
  std::set<std::string> ids;
  for (auto& r : first->accepted) ids.insert(r.event_id);
  for (auto& r : second->accepted) ids.insert(r.event_id);
  EXPECT_EQ(ids.size(), 1010u);
  EXPECT_EQ(first->accepted.size() + second->accepted.size() - 1010,
            static_cast<size_t>(std::count_if(second->accepted.begin(), second->accepted.end(),
                                              [&](const Record& r) {
                                                return r.position <= first->accepted.back().position;
                                              })));
  // Replay is bounded by the records threshold (plus one batch in flight).
  size_t replayed = 0;
  for (auto& r : second->accepted) replayed += r.position <= first->accepted.back().position;
  EXPECT_LE(replayed, 100u + 32u);
  ExpectInLogOrder(second->accepted);
}

TEST_F(RunnerTest, RetriesAFlakySinkWithoutLossOrReordering) {
  AppendEvents(300);
  auto script = std::make_shared<SinkScript>();
  script->retry_every = 2;
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(300));
  runner->Stop();
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(script->accepted.size(), 300u);
  ExpectInLogOrder(script->accepted);
}

TEST_F(RunnerTest, FatalFailsWithTheSinksReason) {
  AppendEvents(10);
  AppendEvents(1, "orders-", "Poison");
  auto script = std::make_shared<SinkScript>();
  script->fatal_on_type = "Poison";
  Events events;
  ConnectorSettings s = Settings();
  s.batch_size = 1;
  auto runner = MakeRunner(script, s, &events);
  runner->Start();
  std::string why;
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_NE(why.find("poison event"), std::string::npos) << why;
  runner->Stop();
  EXPECT_EQ(script->Count(), 10u);
  // The checkpoint never passes the poison event.
  auto cp = LastCheckpoint();
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(cp->position, script->accepted.back().position);
}

TEST_F(RunnerTest, GivesUpAfterMaxAttempts) {
  AppendEvents(5);
  auto script = std::make_shared<SinkScript>();
  script->always_retry = 1;
  Events events;
  ConnectorSettings s = Settings();
  s.max_attempts = 3;
  auto runner = MakeRunner(script, s, &events);
  runner->Start();
  std::string why;
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_NE(why.find("after 3 attempts"), std::string::npos) << why;
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(script->writes, 3);
}

TEST_F(RunnerTest, TwoRunnersOneIsFencedAtItsNextCheckpoint) {
  AppendEvents(50);
  auto a = std::make_shared<SinkScript>(), b = std::make_shared<SinkScript>();
  Events ea, eb;
  ConnectorSettings s = Settings();
  s.autocommit_records_threshold = 10;
  auto ra = MakeRunner(a, s, &ea, "host-a");
  ra->Start();
  ASSERT_TRUE(a->WaitFor(50));
  auto rb = MakeRunner(b, s, &eb, "host-b");
  rb->Start();
  ASSERT_TRUE(eb.WaitFor(RunnerEvent::Kind::kRunning));
  // b claimed the connector when it started: a is fenced at its next checkpoint.
  AppendEvents(50);
  std::string why;
  ASSERT_TRUE(ea.WaitFor(RunnerEvent::Kind::kFenced, &why));
  EXPECT_NE(why.find("fenced"), std::string::npos) << why;
  AppendEvents(50);
  ASSERT_TRUE(b->WaitFor(100));
  rb->Stop();
  ra->Stop();
  absl::MutexLock l(&eb.mu);
  for (auto& e : eb.seen) EXPECT_NE(e.kind, RunnerEvent::Kind::kFenced);
}

TEST_F(RunnerTest, ATombstonedCheckpointStreamFailsTheConnectorWithTheReason) {
  auto script = std::make_shared<SinkScript>();
  Events events;
  ConnectorSettings s;
  s.autocommit_records_threshold = 1;
  auto runner = MakeRunner(script, s, &events);
  runner->Start();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kRunning));
  ASSERT_TRUE(node_->TombstoneStream("$connectors/c1/checkpoints", ESDB_EXPECT_ANY).ok());
  AppendEvents(10);
  std::string why;
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_NE(why.find("$connectors/c1/checkpoints was deleted for ever"), std::string::npos) << why;

  // A runner started afterwards fails at its start claim, with the same reason.
  Events again;
  auto second = MakeRunner(script, s, &again);
  second->Start();
  ASSERT_TRUE(again.WaitFor(RunnerEvent::Kind::kFailed, &why));
  EXPECT_NE(why.find("delete the connector and create it again"), std::string::npos) << why;
}

TEST_F(RunnerTest, AConflictOnTheStartClaimIsRetriedNotFenced) {
  // Like a previous owner writing its final checkpoint between our load and our claim.
  AppendEvents(20);
  node_->FailNextAppends("$connectors/c1/checkpoints", ESDB_NODE_WRONG_EXPECTED_VERSION, 2);
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(20));
  runner->Stop();
  absl::MutexLock l(&events.mu);
  for (auto& e : events.seen) EXPECT_NE(e.kind, RunnerEvent::Kind::kFenced);
}

TEST_F(RunnerTest, ARunnerThatKeepsLosingItsStartClaimIsFenced) {
  AppendEvents(5);
  node_->FailNextAppends("$connectors/c1/checkpoints", ESDB_NODE_WRONG_EXPECTED_VERSION, 3);
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kFenced));
  runner->Stop();
  EXPECT_EQ(script->Count(), 0u);
}

TEST_F(RunnerTest, FilteredSubscriptionCheckpointsWhileNothingMatches) {
  AppendEvents(10, "orders-");
  auto script = std::make_shared<SinkScript>();
  Events events;
  ConnectorSettings s = Settings();
  s.filter = {FilterScope::kStream, FilterType::kPrefix, "invoices-", false};
  auto runner = MakeRunner(script, s, &events);
  runner->Start();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kRunning));
  AppendEvents(500, "orders-");
  auto last = client_.LastPosition();
  ASSERT_TRUE(last.ok());
  // Nothing matches, yet the checkpoint follows the scan (checkpoint notices every 50 events).
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::optional<Checkpoint> cp;
  while (absl::Now() < deadline) {
    cp = LastCheckpoint();
    if (cp && cp->position.commit + 50 >= last->commit) break;
    absl::SleepFor(absl::Milliseconds(5));  // polling the store: there is no event to await
  }
  ASSERT_TRUE(cp.has_value());
  EXPECT_GE(cp->position.commit + 50, last->commit);
  EXPECT_EQ(script->Count(), 0u);
  runner->Stop();
}

TEST_F(RunnerTest, LatestStartsAtTheEndAndPinsIt) {
  AppendEvents(20);
  auto last = client_.LastPosition();
  auto script = std::make_shared<SinkScript>();
  Events events;
  ConnectorSettings s = Settings();
  s.initial = InitialPosition::kLatest;
  auto runner = MakeRunner(script, s, &events);
  runner->Start();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kRunning));
  auto pinned = LastCheckpoint();
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->position.commit, last->commit);  // pinned before any delivery
  AppendEvents(5);
  ASSERT_TRUE(script->WaitFor(5));
  runner->Stop();
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(script->accepted.size(), 5u);
  EXPECT_GT(script->accepted.front().position, *last);
}

TEST_F(RunnerTest, ANewEpochIgnoresOlderCheckpoints) {
  AppendEvents(30);
  {
    auto script = std::make_shared<SinkScript>();
    Events events;
    auto runner = MakeRunner(script, Settings(), &events, "h1", /*epoch=*/0);
    runner->Start();
    ASSERT_TRUE(script->WaitFor(30));
    runner->Stop();
  }
  // A reset (epoch 5) to the start: everything again, despite the checkpoint at the end.
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, Settings(), &events, "h1", /*epoch=*/5);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(30));
  runner->Stop();
  EXPECT_EQ(script->Count(), 30u);
  EXPECT_EQ(LastCheckpoint()->epoch, 5);
}


// A caught-up connector writes nothing while only the library writes: not over its own
// checkpoints, nor over other connectors' checkpoints, lifecycle events or heartbeats. Otherwise
// every checkpoint would make every other connector checkpoint, forever. Its lag still reads 0.
// An event of the kind it could deliver (here one its filter skips) is worth a checkpoint again.
void RunnerTest::ExpectNoCheckpointOverLibraryEvents(ConnectorSettings s,
                                                     const std::string& unmatched) {
  AppendEvents(20, "orders-");
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, s, &events);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(20));
  // The deliveries are checkpointed (a second after the caught-up notice), and the runner has
  // seen its append return (it is appended in the background).
  ASSERT_TRUE(PollUntil([&] {
    auto cp = LastCheckpoint();
    return cp && cp->position >= last_appended_ &&
           metrics_->checkpoint_position.load() >= last_appended_.commit;
  }));
  int64_t revision = CheckpointRevision();
  uint64_t written = metrics_->checkpoints.load();

  AppendLibraryEvents(300);
  Position end = *client_.LastPosition();
  ASSERT_TRUE(PollUntil([&] {
    return metrics_->handled_position.load() == end.commit && metrics_->caught_up.load();
  }));
  // Checking that nothing happens: longer than any checkpoint or probe delay of the runner.
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_EQ(CheckpointRevision(), revision);
  EXPECT_EQ(metrics_->checkpoints.load(), written);
  EXPECT_EQ(metrics_->Lag(client_.LastPosition()->commit), 0u);
  EXPECT_LT(metrics_->checkpoint_position.load(), end.commit);

  // A user event, delivered or skipped: scan progress is worth saving again (restarts stay cheap).
  AppendEvents(1, unmatched);
  ASSERT_TRUE(PollUntil([&] {
    auto cp = LastCheckpoint();
    return cp && cp->position >= last_appended_;
  }));
  runner->Stop();
  EXPECT_EQ(script->Count(), unmatched == "orders-" ? 21u : 20u);
}

TEST_F(RunnerTest, AnUnfilteredRunnerWritesNoCheckpointOverTheLibrarysOwnEvents) {
  ExpectNoCheckpointOverLibraryEvents(Settings(), "orders-");
}

TEST_F(RunnerTest, ANodeFilteredRunnerWritesNoCheckpointOverTheLibrarysOwnEvents) {
  // The node drops what the filter does not match, so the runner never sees the skipped user
  // event; its probe does.
  ConnectorSettings s = Settings();
  s.filter = {FilterScope::kStream, FilterType::kPrefix, "orders-", false};
  ExpectNoCheckpointOverLibraryEvents(s, "invoices-");
}

TEST_F(RunnerTest, ACaughtUpRunnerHasNoLagAndABusyOneHasSome) {
  AppendEvents(100);
  auto script = std::make_shared<SinkScript>();
  script->Hold(true);
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(script->AwaitWriting());
  // The first batch hangs in the sink: everything is still to do.
  Position end = *client_.LastPosition();
  EXPECT_FALSE(metrics_->caught_up.load());
  EXPECT_GT(metrics_->Lag(end.commit), 0u);
  script->Hold(false);
  ASSERT_TRUE(script->WaitFor(100));
  ASSERT_TRUE(PollUntil([&] {
    auto cp = LastCheckpoint();
    return cp && cp->position >= last_appended_;
  }));
  // Then only bookkeeping: not checkpointed, yet there is nothing left to look at.
  AppendLibraryEvents(50);
  ASSERT_TRUE(PollUntil([&] {
    return metrics_->caught_up.load() &&
           metrics_->Lag(client_.LastPosition()->commit) == 0;
  }));
  EXPECT_LT(metrics_->checkpoint_position.load(), client_.LastPosition()->commit);
  runner->Stop();
}

// While a write is in progress the node's callbacks queue events without waking the runner (the
// write's end does); what arrives then must still go out, in order, once the write returns.
// `capacity` small: the queue fills during the write, so the subscription is ended and made
// again after the last queued event, while the call is still in progress.
void RunnerTest::ExpectEverythingQueuedDuringAHungWriteDelivered(size_t capacity) {
  queue_capacity_ = capacity;
  AppendEvents(100);
  auto script = std::make_shared<SinkScript>();
  script->Hold(true);
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(script->AwaitWriting());
  AppendEvents(500);        // live, while the first write hangs
  AppendLibraryEvents(20);  // never delivered, interleaved
  AppendEvents(400, "other-", "Shipped");
  absl::SleepFor(absl::Milliseconds(50));  // the callbacks have run (nothing to wait on)
  ASSERT_NO_FATAL_FAILURE(ReleaseAndExpectAllDelivered(*script, *runner, events, 1000));
  absl::MutexLock l(&script->mu);
  std::set<std::string> ids;
  for (const Record& r : script->accepted) ids.insert(r.event_id);
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_GE(LastCheckpoint()->position, last_appended_);
}

TEST_F(RunnerTest, EventsQueuedDuringAHungWriteGoOutInOrderAfterIt) {
  ExpectEverythingQueuedDuringAHungWriteDelivered(20000);
}

TEST_F(RunnerTest, AQueueThatFillsDuringAHungWritePausesAndResubscribesWithoutLoss) {
  ExpectEverythingQueuedDuringAHungWriteDelivered(64);
}

// Large events fill memory long before they fill the queue's record count: the queue is bounded
// by the memory its records hold too (8 MiB by default), so a connector whose sink is stuck holds
// that much, not 20,000 events of whatever size, and loses nothing for it.
// A notice naming a position behind what the runner has queued (a caught-up message may name
// none, which the side-car then gives as where it started) moves nothing back: after a drop the
// runner reads on from its last event, not from the log's start all over again.
TEST_F(RunnerTest, ANoticeBehindTheQueuedEventsDoesNotMoveWhereTheRunnerReadsOnFrom) {
  AppendEvents(50);
  SubscriptionSpy spy(node_->api());
  NodeClient spied(spy.api());
  runner_node_ = &spied;
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(script->WaitFor(50));
  ASSERT_TRUE(spy.WaitForCaughtUp(1));
  // As a node would, between its own callbacks (it sends none: nothing is appended meanwhile).
  esdb_subscription_callbacks cb = spy.Callbacks(0);
  cb.on_caught_up(cb.user, esdb_position{0, 0});
  cb.on_dropped(cb.user, ESDB_NODE_UNAVAILABLE, "connection lost");
  ASSERT_TRUE(spy.WaitForSubscriptions(2));
  const esdb_subscribe_options again = spy.Options(1);
  EXPECT_EQ(again.from, ESDB_FROM_POSITION);
  EXPECT_GE(again.position.commit, last_appended_.commit);  // or its own start claim past it
  AppendEvents(10);
  ASSERT_NO_FATAL_FAILURE(ReleaseAndExpectAllDelivered(*script, *runner, events, 60));
}

TEST_F(RunnerTest, AQueueOfLargeEventsPausesAtItsMemoryBoundWithoutLoss) {
  const std::string pad(64 << 10, 'x');
  for (int i = 0; i < 600; ++i) {
    EventData e;
    e.event_type = "Large";
    e.data = absl::StrCat(R"({"n":)", i, R"(,"pad":")", pad, R"("})");
    auto r = client_.Append(absl::StrCat("large-", i % 5), ESDB_EXPECT_ANY,
                            std::span<const EventData>(&e, 1));
    ASSERT_TRUE(r.ok());
    last_appended_ = r->position;
  }
  SubscriptionSpy spy(node_->api());
  NodeClient spied(spy.api());
  runner_node_ = &spied;
  DeliveryPools pools(DeliveryPoolsOptions{.task_threads = 2});
  runner_pools_ = &pools;
  absl::Notification release;
  absl::Mutex mu;
  int holding = 0;
  // The node's first callback waits until the runner's task threads are taken (a machine too
  // busy to give the task a thread): nothing ends the subscription then, and the node reads on
  // to the end of the log.
  spy.HoldEvents(true);
  auto script = std::make_shared<SinkScript>();
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  // Whatever fails below, the gate and the task threads are let go before the runner stops
  // (its stop waits for the callback held at the gate).
  absl::Cleanup let_go = [&] {
    spy.HoldEvents(false);
    if (!release.HasBeenNotified()) release.Notify();
  };
  runner->Start();
  ASSERT_TRUE(spy.WaitForHeldEvents());
  for (int i = 0; i < 2; ++i) {
    pools.tasks().Post([&] {
      {
        absl::MutexLock l(&mu);
        ++holding;
      }
      release.WaitForNotification();
    });
  }
  {
    absl::MutexLock l(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(+[](int* n) { return *n == 2; }, &holding), absl::Seconds(20)));
  }
  spy.HoldEvents(false);
  ASSERT_TRUE(spy.WaitForCaughtUp(1)) << "the node never reached the end of the log";
  // 600 events are far from the 20,000 records the queue may count: only the memory bound
  // stops it. It holds the bound and the node's read that crossed it (4 MiB at most); what
  // came after is read again by the next subscription. Everything would be some 40 MB.
  const uint64_t queued = metrics_->queued_bytes.load();
  EXPECT_GE(queued, uint64_t{8} << 20);
  EXPECT_LT(queued, uint64_t{13} << 20);
  release.Notify();
  ASSERT_NO_FATAL_FAILURE(ReleaseAndExpectAllDelivered(*script, *runner, events, 600));
  EXPECT_EQ(metrics_->queued_bytes.load(), 0u);
}

// A checkpoint is appended in the background: while one is in flight, delivery goes on for
// another recordsThreshold records at most, then waits for it, so that a crash replays at most
// about twice what it would with checkpoints written in line; once the append returns
// everything goes out, and the checkpoint that follows covers it.
TEST_F(RunnerTest, DeliveryGoesOnForOneCheckpointsWorthWhileACheckpointAppendHangs) {
  AppendEvents(1000);
  struct Gate {
    absl::Mutex mu;
    bool closed ABSL_GUARDED_BY(mu) = false;
    int held ABSL_GUARDED_BY(mu) = 0;  // appends waiting at the gate
  };
  auto gate = std::make_shared<Gate>();
  const std::thread::id test_thread = std::this_thread::get_id();
  node_->SetCommitHook([gate, test_thread] {
    if (std::this_thread::get_id() == test_thread) return;
    absl::MutexLock l(&gate->mu);
    if (!gate->closed) return;
    ++gate->held;
    gate->mu.Await(absl::Condition(
        +[](bool* closed) { return !*closed; }, &gate->closed));
    --gate->held;
  });
  auto script = std::make_shared<SinkScript>();
  script->Hold(true);  // nothing is delivered before the gate is closed
  Events events;
  auto runner = MakeRunner(script, Settings(), &events);
  runner->Start();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kRunning));  // the start claim is written
  {
    absl::MutexLock l(&gate->mu);
    gate->closed = true;
  }
  script->Hold(false);
  // The first checkpoint is due after 50 to 100 records (the threshold less the runner's head
  // start, at the end of the batch that reaches it: batches are at most 32); it hangs at the
  // gate, up to 100 more records (and the rest of their last batch) go out, and then nothing.
  {
    absl::MutexLock l(&gate->mu);
    auto holding = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate->mu) { return gate->held == 1; };
    ASSERT_TRUE(gate->mu.AwaitWithTimeout(absl::Condition(&holding), absl::Seconds(20)));
  }
  // At least the checkpoint's 50 records and 100 more go out while it hangs: awaited, as a
  // loaded machine may take longer than any fixed delay to write them.
  ASSERT_TRUE(script->WaitFor(150)) << "only " << script->Count() << " records went out";
  absl::SleepFor(absl::Milliseconds(200));  // checking that nothing more goes out
  const size_t while_held = script->Count();
  EXPECT_LE(while_held, (100u + 31u) + (100u + 31u));  // the checkpoint's records, and as many
  {
    absl::MutexLock l(&gate->mu);
    EXPECT_EQ(gate->held, 1);  // one checkpoint at a time
    gate->closed = false;
  }
  ASSERT_TRUE(script->WaitFor(1000));
  ASSERT_TRUE(PollUntil([&] {
    auto cp = LastCheckpoint();
    return cp && cp->position >= last_appended_;
  }));
  runner->Stop();
  ASSERT_TRUE(events.WaitFor(RunnerEvent::Kind::kStopped));
  absl::MutexLock l(&script->mu);
  EXPECT_EQ(script->accepted.size(), 1000u);
  ExpectInLogOrder(script->accepted);
  node_->SetCommitHook(nullptr);
}

}  // namespace
}  // namespace esdb
