// Runners at scale: many of them on the in-memory dev node (whose subscriptions share a small
// worker pool), with shared pools. What is checked: the thread count does not grow with the number
// of runners, a hung sink holds up no other runner (nor their stops), and a full queue is handled
// by ending and renewing the subscription without loss, repetition or reordering.
#include <dirent.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "delivery/runner.h"
#include "delivery/runner_test_util.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// Threads of this process, from /proc/self/task.
int ThreadCount() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

// What one sink acknowledged; writes wait while `hold` is set.
struct Received {
  absl::Mutex mu;
  std::vector<Record> records ABSL_GUARDED_BY(mu);
  int writes ABSL_GUARDED_BY(mu) = 0;
  bool hold ABSL_GUARDED_BY(mu) = false;

  bool WaitFor(size_t n) {
    absl::MutexLock l(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return records.size() >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  bool WaitForWrites(int n) {
    absl::MutexLock l(&mu);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return writes >= n; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }
  void Hold(bool on) {
    absl::MutexLock l(&mu);
    hold = on;
  }
};

class RecordingSink : public Sink {
 public:
  explicit RecordingSink(std::shared_ptr<Received> r) : r_(std::move(r)) {}
  SinkResult Write(std::span<const Record> records) override {
    absl::MutexLock l(&r_->mu);
    ++r_->writes;
    r_->mu.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &r_->hold));
    r_->records.insert(r_->records.end(), records.begin(), records.end());
    return {};
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  std::shared_ptr<Received> r_;
};

// A sink whose writes never return until the test releases them: a plugin stuck in write().
struct Hang {
  absl::Notification entered;
  absl::Notification release;
};

class HangingSink : public Sink {
 public:
  explicit HangingSink(std::shared_ptr<Hang> h) : h_(std::move(h)) {}
  SinkResult Write(std::span<const Record>) override {
    if (!h_->entered.HasBeenNotified()) h_->entered.Notify();
    h_->release.WaitForNotification();
    return {};
  }
  absl::Status Flush() override { return absl::OkStatus(); }

 private:
  std::shared_ptr<Hang> h_;
};

class RunnerScaleTest : public ::testing::Test {
 protected:
  static ConnectorSettings Settings() {
    ConnectorSettings s = QuickRunnerSettings();
    return s;
  }

  std::unique_ptr<Runner> MakeRunner(const std::string& id,
                                     std::function<std::unique_ptr<Sink>()> sink,
                                     ConnectorSettings s = Settings(),
                                     size_t queue_capacity = 20000,
                                     absl::Duration stop_timeout = absl::Seconds(10)) {
    RunnerOptions o;
    o.connector_id = id;
    o.host_id = "h1";
    o.settings = s;
    o.epoch = 0;
    o.node = &client_;
    o.open_sink = [sink]() -> absl::StatusOr<std::unique_ptr<Sink>> { return sink(); };
    o.pools = runner_pools_;
    o.queue_capacity = queue_capacity;
    o.stop_timeout = stop_timeout;
    return std::make_unique<Runner>(std::move(o));
  }

  std::unique_ptr<Runner> MakeRecordingRunner(const std::string& id, std::shared_ptr<Received> r,
                                              ConnectorSettings s = Settings()) {
    return MakeRunner(
        id, [r] { return std::make_unique<RecordingSink>(r); }, s);
  }

  std::optional<Checkpoint> LastCheckpoint(const std::string& id) {
    CheckpointStore store(&client_, id, 0, "reader");
    auto c = store.Load();
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : std::nullopt;
  }

  // Appends `count` events of `type` to `stream`; returns the position of the last one.
  Position Append(const std::string& stream, int count, const std::string& type = "Tested") {
    std::vector<EventData> events(count);
    for (EventData& e : events) {
      e.event_type = type;
      e.data = "{}";
    }
    auto r = client_.Append(stream, ESDB_EXPECT_ANY, events);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->position : Position{};
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  SubscriptionSpy spy_{node_->api()};
  NodeClient client_{spy_.api()};
  DeliveryPools pools_{DeliveryPoolsOptions{.task_threads = 2, .sink_threads = 8}};
  DeliveryPools* runner_pools_ = &pools_;
};

// A thousand connectors whose sinks are down would each hold a full queue; together the queues
// hold no more than the budget (plus each runner's minimum and the read that crossed it), and
// every runner still delivers everything once its sink is back.
TEST_F(RunnerScaleTest, TheQueuesOfAllRunnersStayWithinOneMemoryBudget) {
  DeliveryPools small{
      DeliveryPoolsOptions{.task_threads = 2, .sink_threads = 8, .queue_budget = size_t{4} << 20}};
  runner_pools_ = &small;
  const std::string pad(32 << 10, 'x');
  Position last;
  for (int i = 0; i < 300; ++i) {
    EventData e;
    e.event_type = "Large";
    e.data = absl::StrCat(R"({"n":)", i, R"(,"pad":")", pad, R"("})");
    auto r = client_.Append("large", ESDB_EXPECT_ANY, std::span<const EventData>(&e, 1));
    ASSERT_TRUE(r.ok()) << r.status();
    last = r->position;
  }
  constexpr int kRunners = 4;
  std::vector<std::shared_ptr<Received>> received;
  std::vector<std::unique_ptr<Runner>> runners;
  for (int i = 0; i < kRunners; ++i) {
    received.push_back(std::make_shared<Received>());
    {
      absl::MutexLock l(&received.back()->mu);
      received.back()->hold = true;
    }
    runners.push_back(MakeRecordingRunner(absl::StrCat("q", i), received.back()));
    runners.back()->Start();
  }
  for (auto& r : received) {
    absl::MutexLock l(&r->mu);
    ASSERT_TRUE(r->mu.AwaitWithTimeout(absl::Condition(
                                           +[](int* writes) { return *writes > 0; }, &r->writes),
                                       kWait));
  }
  // Each runner alone may queue 8 MiB, past what 300 events of 32 KiB hold (some 10 MB): only
  // the budget ends the subscriptions while every write hangs.
  ASSERT_TRUE(spy_.WaitForLive(0, kWait)) << small.queue_budget().used() << " bytes queued";
  // The budget, then at most the read that crossed it (4 MiB at most: the node's catch-up
  // reads stop there) each, as all four may cross it at once; without the budget some 37 MB.
  EXPECT_GE(small.queue_budget().used(), size_t{4} << 20);
  EXPECT_LT(small.queue_budget().used(), size_t{22} << 20);
  for (auto& r : received) {
    absl::MutexLock l(&r->mu);
    r->hold = false;
  }
  for (int i = 0; i < kRunners; ++i) {
    ASSERT_TRUE(received[i]->WaitFor(300)) << i;
    absl::MutexLock l(&received[i]->mu);
    EXPECT_EQ(received[i]->records.size(), 300u) << i;
    EXPECT_EQ(received[i]->records.back().position, last) << i;
  }
  runners.clear();
  EXPECT_EQ(small.queue_budget().used(), 0u);
}

TEST_F(RunnerScaleTest, FiveHundredRunnersUseABoundedNumberOfThreads) {
  const int before = ThreadCount();
  Position last = Append("orders-1", 10);
  std::vector<std::shared_ptr<Received>> received;
  std::vector<std::unique_ptr<Runner>> runners;
  for (int i = 0; i < 500; ++i) {
    received.push_back(std::make_shared<Received>());
    runners.push_back(MakeRecordingRunner(absl::StrCat("c", i), received.back()));
    runners.back()->Start();
  }
  for (auto& r : received) ASSERT_TRUE(r->WaitFor(10));
  // The pools' threads and nothing per runner: two task threads, at most eight sink-call threads,
  // and the node's subscription pool (2 workers and a timer, growing by a few while catch-ups
  // queue), where one thread per runner would be 500 more.
  const int during = ThreadCount();
  EXPECT_LE(during - before, 24) << before << " threads before, " << during << " with 500 runners";

  absl::Time t0 = absl::Now();
  for (auto& r : runners) r->RequestStop();
  for (auto& r : runners) EXPECT_TRUE(r->AwaitEnd(t0 + kWait));
  for (int i = 0; i < 500; i += 50) {
    auto cp = LastCheckpoint(absl::StrCat("c", i));
    ASSERT_TRUE(cp.has_value());
    EXPECT_GE(cp->position, last);  // the final checkpoint
  }
}

TEST_F(RunnerScaleTest, AHungSinkDelaysNeitherTheDeliveryNorTheStopOfOthers) {
  Append("orders-1", 20);
  auto hang = std::make_shared<Hang>();
  auto hung = MakeRunner("hung", [hang] { return std::make_unique<HangingSink>(hang); });
  std::vector<std::shared_ptr<Received>> received;
  std::vector<std::unique_ptr<Runner>> others;
  for (int i = 0; i < 100; ++i) {
    received.push_back(std::make_shared<Received>());
    others.push_back(MakeRecordingRunner(absl::StrCat("c", i), received.back()));
  }
  hung->Start();
  ASSERT_TRUE(hang->entered.WaitForNotificationWithTimeout(kWait));
  for (auto& r : others) r->Start();
  for (auto& r : received) ASSERT_TRUE(r->WaitFor(20));
  Position last = Append("orders-2", 20);
  for (auto& r : received) ASSERT_TRUE(r->WaitFor(40));

  // All asked at once; the hung one cannot end (its write never returns), the others do, with
  // their final checkpoints, long before the hung one's stop timeout (10 s).
  absl::Time t0 = absl::Now();
  hung->RequestStop();
  for (auto& r : others) r->RequestStop();
  for (auto& r : others) EXPECT_TRUE(r->AwaitEnd(t0 + absl::Seconds(5)));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  EXPECT_FALSE(hung->AwaitEnd(absl::InfinitePast()));
  for (int i = 0; i < 100; ++i) {
    auto cp = LastCheckpoint(absl::StrCat("c", i));
    ASSERT_TRUE(cp.has_value());
    // At the last event or past it: the other runners' checkpoints come after it in the log.
    EXPECT_GE(cp->position, last);
  }
  others.clear();

  // The hung one is given up after its stop timeout, without a final checkpoint: its last
  // checkpoint is still the claim at the start of the log.
  hung->Stop();
  EXPECT_GE(absl::Now() - t0, absl::Seconds(10));
  hung.reset();
  auto cp = LastCheckpoint("hung");
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->position, Position{});
  hang->release.Notify();  // the write returns; the call closes the sink on its pool thread
}

TEST_F(RunnerScaleTest, AHungOpenDelaysNoOtherStart) {
  Position last = Append("orders-1", 5);
  auto hang = std::make_shared<Hang>();
  auto stuck = MakeRunner(
      "stuck",
      [hang]() -> std::unique_ptr<Sink> {
        hang->entered.Notify();
        hang->release.WaitForNotification();
        return std::make_unique<HangingSink>(std::make_shared<Hang>());
      },
      Settings(), 20000, /*stop_timeout=*/absl::Milliseconds(300));
  stuck->Start();
  ASSERT_TRUE(hang->entered.WaitForNotificationWithTimeout(kWait));
  std::vector<std::shared_ptr<Received>> received;
  std::vector<std::unique_ptr<Runner>> others;
  for (int i = 0; i < 20; ++i) {
    received.push_back(std::make_shared<Received>());
    others.push_back(MakeRecordingRunner(absl::StrCat("c", i), received.back()));
    others.back()->Start();
  }
  for (auto& r : received) ASSERT_TRUE(r->WaitFor(5));
  for (auto& r : others) r->Stop();
  EXPECT_GE(LastCheckpoint("c0")->position, last);
  absl::Time t0 = absl::Now();
  stuck->Stop();  // given up: its open still hangs
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(250));
  stuck.reset();
  hang->release.Notify();  // the open returns; its sink is closed on the pool thread
}

// Runners that read the same events checkpoint at different ones, even when a quiet spell
// has put them all in the same step (every interval long past when the first event comes),
// and never later than their thresholds: no burst of checkpoint appends that every runner's
// next step would wait behind.
TEST_F(RunnerScaleTest, RunnersReadingTheSameEventsCheckpointApart) {
  constexpr int kRunners = 8;
  constexpr int kEvents = 400;  // some 5 checkpoints each
  ConnectorSettings s = Settings();
  s.batch_size = 1;  // a checkpoint can come after any record
  s.autocommit_records_threshold = 100;
  // Long enough that the burst below is delivered before it (no checkpoint of the interval's
  // among those compared: their timing would differ between runners by itself).
  s.autocommit_interval_ms = 2000;
  Append("orders-0", 1);  // each runner delivers it, then checkpoints it on the interval
  std::vector<std::shared_ptr<Received>> received;
  std::vector<std::unique_ptr<Runner>> runners;
  for (int i = 0; i < kRunners; ++i) {
    received.push_back(std::make_shared<Received>());
    runners.push_back(MakeRecordingRunner(absl::StrCat("c", i), received.back(), s));
    runners.back()->Start();
  }
  for (auto& r : received) ASSERT_TRUE(r->WaitFor(1));
  // Every checkpoint each runner wrote, in order: from $all, where the checkpoint stream's
  // $maxCount hides none of them.
  auto checkpoints = [&](int i) {
    const std::string stream = absl::StrCat("$connectors/c", i, "/checkpoints");
    std::vector<Checkpoint> out;
    auto all = node_->ReadAll(devnode::ReadDirection::kForwards, 0, 1000000);
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return out;
    for (const devnode::RecordedEvent& e : *all) {
      if (e.stream != stream) continue;
      Record r;
      r.event_type = e.event_type;
      r.data = e.data;
      if (std::optional<Checkpoint> cp = ParseCheckpoint(r)) out.push_back(*cp);
    }
    return out;
  };
  // The quiet spell ends once each has checkpointed the first event (after its start claim).
  for (int i = 0; i < kRunners; ++i) {
    const absl::Time deadline = absl::Now() + kWait;
    while (checkpoints(i).size() < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_GE(checkpoints(i).size(), 2u) << "runner c" << i;
  }
  const absl::Time burst = absl::Now();
  Append("orders-1", kEvents);
  for (auto& r : received) ASSERT_TRUE(r->WaitFor(kEvents + 1));
  const absl::Duration delivered_in = absl::Now() - burst;
  for (auto& r : runners) r->Stop();
  if (delivered_in >= absl::Milliseconds(s.autocommit_interval_ms * 3 / 4)) {
    GTEST_SKIP() << "the burst took " << delivered_in
                 << ": checkpoints of the interval may be among those compared";
  }

  // For each runner: the number of records each checkpoint covered, in order (the final
  // checkpoint of the stop left out).
  std::set<std::vector<int64_t>> cadences;
  for (int i = 0; i < kRunners; ++i) {
    std::vector<Checkpoint> written = checkpoints(i);
    std::vector<Position> records;
    {
      absl::MutexLock l(&received[i]->mu);
      for (const Record& r : received[i]->records) records.push_back(r.position);
    }
    std::vector<int64_t> covered;
    int64_t before = 1;  // the first event, before the quiet spell
    for (size_t k = 0; k + 1 < written.size(); ++k) {
      const int64_t upto =
          std::upper_bound(records.begin(), records.end(), written[k].position) - records.begin();
      if (upto <= before) continue;  // the claim at the start, the first event's
      // Never late: at most recordsThreshold records since the last one (plus the record whose
      // acknowledgement came while the checkpoint was being appended).
      EXPECT_LE(upto - before, s.autocommit_records_threshold + 1) << "runner c" << i;
      covered.push_back(upto - before);
      before = upto;
    }
    EXPECT_GE(covered.size(), 3u) << "runner c" << i;
    cadences.insert(covered);
  }
  // Lock-step runners would all have the same cadence.
  EXPECT_GE(cadences.size(), kRunners / 2);
}

TEST_F(RunnerScaleTest, AFullQueueEndsTheSubscriptionAndResumesWithoutLossOrRepeats) {
  for (int i = 0; i < 20; ++i) Append(absl::StrCat("orders-", i % 7), 100);
  Position last = *client_.LastPosition();
  auto received = std::make_shared<Received>();
  received->Hold(true);
  ConnectorSettings s = Settings();
  s.batch_size = 10;
  // A queue of 100 records for a log of 2,000.
  auto runner = MakeRunner(
      "c1", [received] { return std::make_unique<RecordingSink>(received); }, s,
      /*queue_capacity=*/100);
  runner->Start();
  ASSERT_TRUE(received->WaitForWrites(1));
  // The first write hangs; the queue fills up and the runner ends its subscription.
  ASSERT_TRUE(spy_.WaitForLive(0, kWait));
  EXPECT_EQ(spy_.subscribes(), 1);
  received->Hold(false);
  ASSERT_TRUE(received->WaitFor(2000));
  runner->Stop();
  EXPECT_GE(spy_.subscribes(), 2);  // subscribed again once the queue had drained
  absl::MutexLock l(&received->mu);
  ASSERT_EQ(received->records.size(), 2000u);
  std::set<std::string> ids;
  for (size_t i = 0; i < received->records.size(); ++i) {
    ids.insert(received->records[i].event_id);
    if (i > 0) ASSERT_LT(received->records[i - 1].position, received->records[i].position);
  }
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_EQ(received->records.back().position, last);
}

}  // namespace
}  // namespace esdb
