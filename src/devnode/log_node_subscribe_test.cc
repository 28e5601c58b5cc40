// $all subscriptions of the log node: start points, filters, checkpoints, catch-up then live,
// ordering under concurrent appends, back-pressure, unsubscribe and shutdown. Both stores.
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "devnode/log_node.h"
#include "devnode/log_node_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

using testing::AppendN;
using testing::Backend;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::Event;
using ::testing::IsEmpty;
using testing::Positions;
using testing::Recorder;
using testing::SubscribeOptions;

class LogNodeSubscribeTest : public testing::LogNodeFixture {
 protected:
  void Unsubscribe(esdb_subscription* subscription) {
    api()->unsubscribe_all(api()->ctx, subscription);
  }
};

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t p = first; p <= last; ++p) out.push_back(p);
  return out;
}

std::vector<std::string> StreamsOf(const std::vector<RecordedEvent>& events) {
  std::vector<std::string> out;
  for (const RecordedEvent& e : events) out.push_back(e.stream);
  return out;
}

TEST_P(LogNodeSubscribeTest, FromStartCatchesUpThenGoesLive) {
  AppendN(*node_, "a", 6);
  AppendN(*node_, "b", 4);
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions(ESDB_FROM_START));
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  std::vector<Recorder::Call> calls = recorder.calls();
  ASSERT_FALSE(calls.empty());
  // All ten events arrive before caught-up, in batches of at most read_batch (4).
  EXPECT_EQ(calls.back().kind, Recorder::Call::kCaughtUp);
  EXPECT_EQ(calls.back().position, 10u);
  for (const Recorder::Call& call : calls) EXPECT_LE(call.events.size(), 4u);
  EXPECT_THAT(Positions(recorder.events()), ElementsAreArray(Range(1, 10)));
  EXPECT_EQ(recorder.events()[6].stream, "b");
  EXPECT_EQ(recorder.events()[6].revision, 0u);

  AppendN(*node_, "c", 3);
  ASSERT_TRUE(recorder.WaitForEventCount(13));
  EXPECT_THAT(Positions(recorder.events()), ElementsAreArray(Range(1, 13)));
  Unsubscribe(sub);
  EXPECT_EQ(recorder.overlaps(), 0);
}

TEST_P(LogNodeSubscribeTest, CaughtUpOnAnEmptyLogIsAtZero) {
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions(ESDB_FROM_START));
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  EXPECT_EQ(recorder.calls().front().position, 0u);
  AppendN(*node_, "a", 1);
  ASSERT_TRUE(recorder.WaitForEventCount(1));
  Unsubscribe(sub);
}

TEST_P(LogNodeSubscribeTest, FromEndSkipsExistingEvents) {
  AppendN(*node_, "a", 5);
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions(ESDB_FROM_END));
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  EXPECT_EQ(recorder.calls().front().kind, Recorder::Call::kCaughtUp);
  EXPECT_EQ(recorder.calls().front().position, 5u);
  AppendN(*node_, "b", 2);
  ASSERT_TRUE(recorder.WaitForEventCount(2));
  EXPECT_THAT(Positions(recorder.events()), ElementsAre(6, 7));
  Unsubscribe(sub);
}

TEST_P(LogNodeSubscribeTest, FromPositionIsExclusive) {
  AppendN(*node_, "a", 6);
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions(ESDB_FROM_POSITION, 3));
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  EXPECT_THAT(Positions(recorder.events()), ElementsAre(4, 5, 6));
  Unsubscribe(sub);
}

class LogNodeFilterTest : public LogNodeSubscribeTest {
 protected:
  void SetUp() override {
    LogNodeSubscribeTest::SetUp();
    ASSERT_TRUE(node_->Append("orders-1", ESDB_EXPECT_ANY, {Event("OrderPlaced")}).ok());
    ASSERT_TRUE(node_->Append("users-1", ESDB_EXPECT_ANY, {Event("UserAdded")}).ok());
    ASSERT_TRUE(node_->Append("orders-2", ESDB_EXPECT_ANY, {Event("OrderShipped")}).ok());
    ASSERT_TRUE(node_->Append("$system", ESDB_EXPECT_ANY, {Event("$meta")}).ok());
    ASSERT_TRUE(node_->Append("invoices", ESDB_EXPECT_ANY, {Event("OrderBilled")}).ok());
  }

  // The streams of the events a filtered subscription delivers while catching up.
  std::vector<std::string> Matching(int32_t scope, const char* regex,
                                    std::vector<const char*> prefixes) {
    esdb_subscribe_options options = SubscribeOptions(ESDB_FROM_START);
    options.filter_scope = scope;
    options.filter_regex = regex;
    options.filter_prefixes = prefixes.data();
    options.filter_prefix_count = prefixes.size();
    Recorder recorder;
    esdb_subscription* sub = recorder.Subscribe(api(), options);
    EXPECT_TRUE(recorder.WaitForCaughtUp());
    Unsubscribe(sub);
    return StreamsOf(recorder.events());
  }
};

TEST_P(LogNodeFilterTest, NoFilterDeliversEverything) {
  EXPECT_THAT(Matching(ESDB_FILTER_NONE, "ignored", {"ignored"}),
              ElementsAre("orders-1", "users-1", "orders-2", "$system", "invoices"));
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, nullptr, {}),
              ElementsAre("orders-1", "users-1", "orders-2", "$system", "invoices"));
}

TEST_P(LogNodeFilterTest, StreamPrefixes) {
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, nullptr, {"orders-"}),
              ElementsAre("orders-1", "orders-2"));
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, nullptr, {"users", "$"}),
              ElementsAre("users-1", "$system"));
}

TEST_P(LogNodeFilterTest, StreamRegexIsSearchedNotAnchored) {
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, "^users", {}), ElementsAre("users-1"));
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, "rs-1", {}), ElementsAre("orders-1", "users-1"));
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, "^(orders|invoices)$|-2$", {}),
              ElementsAre("orders-2", "invoices"));
}

TEST_P(LogNodeFilterTest, RegexOrPrefixes) {
  EXPECT_THAT(Matching(ESDB_FILTER_STREAM, "^users", {"inv"}), ElementsAre("users-1", "invoices"));
}

TEST_P(LogNodeFilterTest, EventTypeScope) {
  EXPECT_THAT(Matching(ESDB_FILTER_EVENT_TYPE, nullptr, {"Order"}),
              ElementsAre("orders-1", "orders-2", "invoices"));
  EXPECT_THAT(Matching(ESDB_FILTER_EVENT_TYPE, "Added|Billed", {}),
              ElementsAre("users-1", "invoices"));
}

TEST_P(LogNodeFilterTest, BadFiltersAreRefused) {
  Recorder recorder;
  esdb_subscription_callbacks callbacks = recorder.Callbacks();
  esdb_subscription* sub = nullptr;
  char err[256];
  esdb_subscribe_options bad_regex = SubscribeOptions();
  bad_regex.filter_scope = ESDB_FILTER_STREAM;
  bad_regex.filter_regex = "([unclosed";
  EXPECT_EQ(api()->subscribe_all(api()->ctx, &bad_regex, &callbacks, &sub, err, sizeof(err)),
            ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_THAT(std::string(err), ::testing::HasSubstr("regex"));
  esdb_subscribe_options bad_scope = SubscribeOptions();
  bad_scope.filter_scope = 9;
  EXPECT_EQ(api()->subscribe_all(api()->ctx, &bad_scope, &callbacks, &sub, err, sizeof(err)),
            ESDB_NODE_INVALID_ARGUMENT);
  esdb_subscribe_options bad_from = SubscribeOptions(7);
  EXPECT_EQ(api()->subscribe_all(api()->ctx, &bad_from, &callbacks, &sub, err, sizeof(err)),
            ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_EQ(sub, nullptr);
  EXPECT_EQ(recorder.call_count(), 0u);
}

TEST_P(LogNodeSubscribeTest, CheckpointsWhileScanningNonMatchingEvents) {
  AppendN(*node_, "noise", 25);
  esdb_subscribe_options options = SubscribeOptions();
  options.filter_scope = ESDB_FILTER_STREAM;
  const char* prefixes[] = {"wanted"};
  options.filter_prefixes = prefixes;
  options.filter_prefix_count = 1;
  options.checkpoint_interval = 10;
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), options);
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  EXPECT_THAT(recorder.events(), IsEmpty());
  EXPECT_THAT(recorder.checkpoints(), ElementsAre(10, 20));
  EXPECT_EQ(recorder.calls().back().position, 25u);

  // Live, the scan goes on counting: 5 more events reach the next checkpoint.
  AppendN(*node_, "noise", 5);
  ASSERT_TRUE(recorder.WaitUntil([](const std::vector<Recorder::Call>& calls) {
    return calls.back().kind == Recorder::Call::kCheckpoint && calls.back().position == 30;
  }));
  EXPECT_THAT(recorder.events(), IsEmpty());
  Unsubscribe(sub);
}

TEST_P(LogNodeSubscribeTest, LiveAndIdleTheScanPositionIsReportedWithoutWaitingForAnInterval) {
  esdb_subscribe_options options = SubscribeOptions();
  options.filter_scope = ESDB_FILTER_STREAM;
  const char* prefixes[] = {"wanted"};
  options.filter_prefixes = prefixes;
  options.filter_prefix_count = 1;
  options.checkpoint_interval = 1000;
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), options);
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  // Three non-matching events, far below the interval: once the scan is idle again, a notice at
  // the last of them lets the subscriber commit progress over them.
  AppendN(*node_, "noise", 3);
  const uint64_t last = node_->LastPosition();
  ASSERT_TRUE(recorder.WaitUntil([last](const std::vector<Recorder::Call>& calls) {
    return calls.back().kind == Recorder::Call::kCheckpoint && calls.back().position == last;
  }));
  EXPECT_THAT(recorder.events(), IsEmpty());
  // One notice per idle period: the next event brings exactly one more, at its position.
  size_t notices = recorder.checkpoints().size();
  AppendN(*node_, "noise", 1);
  const uint64_t next = node_->LastPosition();
  ASSERT_TRUE(recorder.WaitUntil([next](const std::vector<Recorder::Call>& calls) {
    return calls.back().kind == Recorder::Call::kCheckpoint && calls.back().position == next;
  }));
  EXPECT_EQ(recorder.checkpoints().size(), notices + 1);
  Unsubscribe(sub);
}

TEST_P(LogNodeSubscribeTest, MatchesBeforeACheckpointAreDeliveredBeforeIt) {
  // Position 9 matches and 10 is a checkpoint; both fall in the read batch 9..12.
  AppendN(*node_, "noise", 8);
  AppendN(*node_, "wanted", 1);
  AppendN(*node_, "noise", 5);
  esdb_subscribe_options options = SubscribeOptions();
  options.filter_scope = ESDB_FILTER_STREAM;
  const char* prefixes[] = {"wanted"};
  options.filter_prefixes = prefixes;
  options.filter_prefix_count = 1;
  options.checkpoint_interval = 10;
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), options);
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  std::vector<Recorder::Call> calls = recorder.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].kind, Recorder::Call::kEvents);
  EXPECT_THAT(Positions(calls[0].events), ElementsAre(9));
  EXPECT_EQ(calls[1].kind, Recorder::Call::kCheckpoint);
  EXPECT_EQ(calls[1].position, 10u);
  EXPECT_EQ(calls[2].kind, Recorder::Call::kCaughtUp);
  EXPECT_EQ(calls[2].position, 14u);
  Unsubscribe(sub);
}

TEST_P(LogNodeSubscribeTest, ZeroCheckpointIntervalUsesTheNodeDefault) {
  LogNodeOptions options = TestOptions();
  options.default_checkpoint_interval = 3;
  node_.reset();
  node_ = OpenNode(options);
  AppendN(*node_, "a", 7);
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions());
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  EXPECT_THAT(recorder.checkpoints(), ElementsAre(3, 6));
  Unsubscribe(sub);
}

TEST_P(LogNodeSubscribeTest, OrderHoldsUnderConcurrentAppenders) {
  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 100;  // two events each
  Recorder recorder;
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions());
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([this, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        // Half of the writes go to a shared stream, so revisions interleave across threads.
        std::string stream = i % 2 == 0 ? "shared" : absl::StrCat("own-", t);
        auto result = node_->Append(stream, ESDB_EXPECT_ANY, {Event("x"), Event("y")});
        ASSERT_TRUE(result.ok()) << result.status();
      }
    });
  }
  for (std::thread& w : writers) w.join();
  const size_t total = kThreads * kAppendsPerThread * 2;
  ASSERT_TRUE(recorder.WaitForEventCount(total));
  std::vector<RecordedEvent> events = recorder.events();
  ASSERT_EQ(events.size(), total);
  EXPECT_THAT(Positions(events), ElementsAreArray(Range(1, total)));
  absl::flat_hash_map<std::string, uint64_t> next_revision;
  absl::flat_hash_set<std::string> ids;
  for (const RecordedEvent& e : events) {
    EXPECT_EQ(e.revision, next_revision[e.stream]++) << e.stream;
    EXPECT_TRUE(ids.insert(e.event_id).second) << "duplicate " << e.event_id;
  }
  Unsubscribe(sub);
  EXPECT_EQ(recorder.overlaps(), 0);
}

TEST_P(LogNodeSubscribeTest, UnsubscribeWhileOnEventsIsBlocked) {
  Recorder recorder;
  recorder.BlockEvents();
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions());
  AppendN(*node_, "a", 3);
  ASSERT_TRUE(recorder.WaitUntilBlocked());
  // Appends go on while the subscriber applies back-pressure.
  AppendN(*node_, "a", 20);
  EXPECT_EQ(node_->LastPosition(), 23u);

  recorder.Release();
  Unsubscribe(sub);
  EXPECT_EQ(recorder.in_callback(), 0);
  const size_t calls_at_unsubscribe = recorder.call_count();
  for (const Recorder::Call& call : recorder.calls()) {
    EXPECT_NE(call.kind, Recorder::Call::kDropped);
  }

  // Another subscription sees later appends; the cancelled one gets nothing more.
  AppendN(*node_, "a", 5);
  Recorder witness;
  esdb_subscription* other = witness.Subscribe(api(), SubscribeOptions());
  ASSERT_TRUE(witness.WaitForEventCount(28));
  Unsubscribe(other);
  EXPECT_EQ(recorder.call_count(), calls_at_unsubscribe);
}

TEST_P(LogNodeSubscribeTest, ShutdownDropsEverySubscriptionOnce) {
  AppendN(*node_, "a", 2);
  Recorder live, catching_up;
  esdb_subscription* first = live.Subscribe(api(), SubscribeOptions());
  ASSERT_TRUE(live.WaitForCaughtUp());
  catching_up.BlockEvents();
  esdb_subscription* second = catching_up.Subscribe(api(), SubscribeOptions());
  ASSERT_TRUE(catching_up.WaitUntilBlocked());
  catching_up.Release();

  node_->Shutdown();
  for (Recorder* r : {&live, &catching_up}) {
    std::vector<Recorder::Call> calls = r->calls();
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back().kind, Recorder::Call::kDropped);
    EXPECT_EQ(calls.back().status, ESDB_NODE_UNAVAILABLE);
    EXPECT_EQ(calls.back().message, "node shutting down");
    EXPECT_EQ(r->in_callback(), 0);
  }
  const size_t live_calls = live.call_count();
  node_->Shutdown();
  EXPECT_EQ(live.call_count(), live_calls);

  Recorder late;
  esdb_subscription_callbacks callbacks = late.Callbacks();
  esdb_subscribe_options options = SubscribeOptions();
  esdb_subscription* refused = nullptr;
  char err[128];
  EXPECT_EQ(api()->subscribe_all(api()->ctx, &options, &callbacks, &refused, err, sizeof(err)),
            ESDB_NODE_UNAVAILABLE);
  // Handles stay valid for unsubscribe_all after the drop.
  Unsubscribe(first);
  Unsubscribe(second);
  EXPECT_EQ(live.call_count(), live_calls);
}

TEST_P(LogNodeSubscribeTest, DestroyingTheNodeDropsUnreleasedSubscriptions) {
  Recorder recorder;
  recorder.Subscribe(api(), SubscribeOptions());
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  node_.reset();
  EXPECT_EQ(recorder.calls().back().kind, Recorder::Call::kDropped);
}

TEST_P(LogNodeSubscribeTest, ThrowingCallbackDropsWithError) {
  AppendN(*node_, "a", 1);
  Recorder recorder;
  recorder.ThrowOnNextEvents();
  esdb_subscription* sub = recorder.Subscribe(api(), SubscribeOptions());
  ASSERT_TRUE(recorder.WaitForDropped());
  EXPECT_EQ(recorder.calls().back().status, ESDB_NODE_ERROR);
  EXPECT_THAT(recorder.calls().back().message, ::testing::HasSubstr("told to throw"));
  Unsubscribe(sub);
}

INSTANTIATE_TEST_SUITE_P(Stores, LogNodeSubscribeTest,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite),
                         testing::BackendName);
INSTANTIATE_TEST_SUITE_P(Stores, LogNodeFilterTest,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite),
                         testing::BackendName);

}  // namespace
}  // namespace esdb::devnode
