// The C++ subscription API: SubscribeAll and SubscribeStream, on both stores.
#include <memory>
#include <string>
#include <vector>

#include "devnode/log_node.h"
#include "devnode/log_node_test_util.h"
#include "devnode/node_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

using testing::AppendN;
using testing::Backend;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Recorder;
using testing::Revisions;

using StreamFrom = LogNode::StreamFrom;

class LogNodeStreamSubscriptionTest : public testing::LogNodeFixture {
 protected:
  std::unique_ptr<LogNode::Subscription> Subscribe(const std::string& stream, StreamFrom from,
                                                   uint64_t revision = 0) {
    absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
        node_->SubscribeStream(stream, from, revision, recorder_.Callbacks());
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? *std::move(sub) : nullptr;
  }

  Recorder recorder_;
};

TEST_P(LogNodeStreamSubscriptionTest, FromStartDeliversOnlyTheStreamThenGoesLive) {
  AppendN(*node_, "other", 3);
  AppendN(*node_, "s", 2);
  AppendN(*node_, "s-longer", 2);  // a prefix is not the stream
  auto sub = Subscribe("s", StreamFrom::kStart);
  ASSERT_TRUE(recorder_.WaitForCaughtUp());
  AppendN(*node_, "s", 1);
  AppendN(*node_, "other", 1);
  ASSERT_TRUE(recorder_.WaitForEventCount(3));
  EXPECT_THAT(Revisions(recorder_.events()), ElementsAre(0, 1, 2));
  for (const RecordedEvent& e : recorder_.events()) EXPECT_EQ(e.stream, "s");
  EXPECT_THAT(recorder_.checkpoints(), IsEmpty());
}

TEST_P(LogNodeStreamSubscriptionTest, AfterRevisionSkipsUpToAndIncludingIt) {
  AppendN(*node_, "s", 5);
  auto sub = Subscribe("s", StreamFrom::kAfterRevision, 2);
  ASSERT_TRUE(recorder_.WaitForEventCount(2));
  ASSERT_TRUE(recorder_.WaitForCaughtUp());
  EXPECT_THAT(Revisions(recorder_.events()), ElementsAre(3, 4));
}

TEST_P(LogNodeStreamSubscriptionTest, AfterARevisionNotYetWrittenWaitsForIt) {
  AppendN(*node_, "s", 2);
  auto sub = Subscribe("s", StreamFrom::kAfterRevision, 3);
  ASSERT_TRUE(recorder_.WaitForCaughtUp());
  AppendN(*node_, "s", 4);  // revisions 2..5
  ASSERT_TRUE(recorder_.WaitForEventCount(2));
  EXPECT_THAT(Revisions(recorder_.events()), ElementsAre(4, 5));
}

TEST_P(LogNodeStreamSubscriptionTest, FromEndSeesOnlyNewEvents) {
  AppendN(*node_, "s", 3);
  auto sub = Subscribe("s", StreamFrom::kEnd);
  ASSERT_TRUE(recorder_.WaitForCaughtUp());
  AppendN(*node_, "s", 1);
  ASSERT_TRUE(recorder_.WaitForEventCount(1));
  EXPECT_THAT(Revisions(recorder_.events()), ElementsAre(3));
}

TEST_P(LogNodeStreamSubscriptionTest, MissingStreamIsWaitedForAndSoftDeletedEventsStayHidden) {
  auto missing = Subscribe("later", StreamFrom::kStart);
  AppendN(*node_, "s", 2);
  ASSERT_TRUE(node_->DeleteStream("s", ESDB_EXPECT_ANY).ok());
  AppendN(*node_, "s", 1);  // recreated at revision 2
  Recorder deleted;
  absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
      node_->SubscribeStream("s", StreamFrom::kStart, 0, deleted.Callbacks());
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(deleted.WaitForCaughtUp());
  EXPECT_THAT(Revisions(deleted.events()), ElementsAre(2));
  AppendN(*node_, "later", 1);
  ASSERT_TRUE(recorder_.WaitForEventCount(1));
}

TEST_P(LogNodeStreamSubscriptionTest, TombstonedStreamIsRefused) {
  ASSERT_TRUE(node_->TombstoneStream("gone", ESDB_EXPECT_ANY).ok());
  absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
      node_->SubscribeStream("gone", StreamFrom::kStart, 0, recorder_.Callbacks());
  EXPECT_EQ(ToNodeStatus(sub.status()), ESDB_NODE_STREAM_DELETED);
}

TEST_P(LogNodeStreamSubscriptionTest, DestroyingTheHandleStopsDelivery) {
  AppendN(*node_, "s", 1);
  auto sub = Subscribe("s", StreamFrom::kStart);
  ASSERT_TRUE(recorder_.WaitForCaughtUp());
  // A witness on the same stream: once it has the new events, the node has handed them to
  // every subscription it still had.
  Recorder witness;
  auto watching = node_->SubscribeStream("s", StreamFrom::kStart, 0, witness.Callbacks());
  ASSERT_TRUE(watching.ok()) << watching.status();
  ASSERT_TRUE(witness.WaitForCaughtUp());
  const size_t calls = recorder_.call_count();
  sub.reset();  // joins the subscription thread: no callback runs after this
  AppendN(*node_, "s", 3);
  ASSERT_TRUE(witness.WaitForEventCount(4));
  EXPECT_EQ(recorder_.call_count(), calls);
}

TEST_P(LogNodeStreamSubscriptionTest, SubscribeAllThroughTheCppApi) {
  AppendN(*node_, "a", 2);
  esdb_subscribe_options options = testing::SubscribeOptions(ESDB_FROM_POSITION, 1);
  absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
      node_->SubscribeAll(options, recorder_.Callbacks());
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(recorder_.WaitForCaughtUp());
  EXPECT_THAT(testing::Positions(recorder_.events()), ElementsAre(2));
  // Shutdown drops it; the handle is still destroyed cleanly afterwards.
  node_->Shutdown();
  ASSERT_TRUE(recorder_.WaitForDropped());
}

INSTANTIATE_TEST_SUITE_P(Stores, LogNodeStreamSubscriptionTest,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite),
                         testing::BackendName);

}  // namespace
}  // namespace esdb::devnode
