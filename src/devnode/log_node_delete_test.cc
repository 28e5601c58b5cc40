// Soft delete and tombstone of streams, on both stores.
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
using testing::Event;
using testing::Revisions;

class LogNodeDeleteTest : public testing::LogNodeFixture {
 protected:
  esdb_node_status ReadStatus(const std::string& stream) {
    return ToNodeStatus(node_->ReadStream(stream, ReadDirection::kForwards, 0, 100).status());
  }
};

TEST_P(LogNodeDeleteTest, SoftDeleteHidesTheStreamAndAnAppendRecreatesIt) {
  AppendN(*node_, "s", 3);
  absl::StatusOr<uint64_t> position = node_->DeleteStream("s", 2);
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, node_->LastPosition());
  EXPECT_EQ(ReadStatus("s"), ESDB_NODE_STREAM_NOT_FOUND);
  EXPECT_EQ(ToNodeStatus(
                node_->ReadStream("s", ReadDirection::kBackwards, ESDB_REVISION_END, 10).status()),
            ESDB_NODE_STREAM_NOT_FOUND);

  // A deleted stream counts as absent for expectations; revisions go on after the old ones.
  absl::StatusOr<AppendResult> again = node_->Append("s", ESDB_EXPECT_NO_STREAM, {Event("t")});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->next_expected_revision, 3u);
  absl::StatusOr<std::vector<RecordedEvent>> events =
      node_->ReadStream("s", ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(Revisions(*events), ElementsAre(3));
  // $all keeps the old events.
  absl::StatusOr<std::vector<RecordedEvent>> all = node_->ReadAll(ReadDirection::kForwards, 0, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
}

TEST_P(LogNodeDeleteTest, DeleteChecksTheExpectedRevision) {
  AppendN(*node_, "s", 2);
  absl::StatusOr<uint64_t> wrong = node_->DeleteStream("s", 0);
  ASSERT_EQ(ToNodeStatus(wrong.status()), ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(ActualRevision(wrong.status()), 1);
  EXPECT_EQ(ToNodeStatus(node_->TombstoneStream("s", ESDB_EXPECT_NO_STREAM).status()),
            ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(ReadStatus("s"), ESDB_NODE_OK);
  // A missing stream: "any" and "no stream" are met, so nothing happens.
  EXPECT_TRUE(node_->DeleteStream("missing", ESDB_EXPECT_ANY).ok());
  EXPECT_EQ(ToNodeStatus(node_->DeleteStream("missing", ESDB_EXPECT_STREAM_EXISTS).status()),
            ESDB_NODE_WRONG_EXPECTED_VERSION);
}

TEST_P(LogNodeDeleteTest, TombstoneIsForEver) {
  AppendN(*node_, "s", 2);
  ASSERT_TRUE(node_->TombstoneStream("s", ESDB_EXPECT_STREAM_EXISTS).ok());
  EXPECT_EQ(ReadStatus("s"), ESDB_NODE_STREAM_DELETED);
  EXPECT_EQ(ToNodeStatus(node_->Append("s", ESDB_EXPECT_ANY, {Event("t")}).status()),
            ESDB_NODE_STREAM_DELETED);
  EXPECT_EQ(ToNodeStatus(node_->DeleteStream("s", ESDB_EXPECT_ANY).status()),
            ESDB_NODE_STREAM_DELETED);
  EXPECT_EQ(ToNodeStatus(node_->TombstoneStream("s", ESDB_EXPECT_ANY).status()),
            ESDB_NODE_STREAM_DELETED);
  // A batch touching it writes nothing at all.
  std::vector<StreamEvents> batch;
  batch.push_back(StreamEvents{"other", ESDB_EXPECT_ANY, {Event("t")}});
  batch.push_back(StreamEvents{"s", ESDB_EXPECT_ANY, {Event("t")}});
  const uint64_t before = node_->LastPosition();
  EXPECT_EQ(ToNodeStatus(node_->AppendBatch(std::move(batch)).status()), ESDB_NODE_STREAM_DELETED);
  EXPECT_EQ(node_->LastPosition(), before);
  // The node ABI reports deleted streams as not found, as esdb/node.h promises.
  testing::CReadOutcome read = testing::CRead(api(), "s", ESDB_READ_FORWARDS, 0, 10);
  EXPECT_EQ(read.status, ESDB_NODE_STREAM_NOT_FOUND);
}

TEST_P(LogNodeDeleteTest, TombstoningAMissingStreamBlocksItsCreation) {
  ASSERT_TRUE(node_->TombstoneStream("never", ESDB_EXPECT_ANY).ok());
  EXPECT_EQ(ReadStatus("never"), ESDB_NODE_STREAM_DELETED);
  EXPECT_EQ(ToNodeStatus(node_->Append("never", ESDB_EXPECT_NO_STREAM, {Event("t")}).status()),
            ESDB_NODE_STREAM_DELETED);
}

TEST_P(LogNodeDeleteTest, MetadataSurvivesASoftDelete) {
  AppendN(*node_, "s", 5);
  ASSERT_TRUE(node_->SetStreamMetadata("s", R"({"$maxCount":2,"owner":"me"})").ok());
  ASSERT_TRUE(node_->DeleteStream("s", ESDB_EXPECT_ANY).ok());
  absl::StatusOr<std::string> metadata = node_->GetStreamMetadata("s");
  ASSERT_TRUE(metadata.ok());
  EXPECT_THAT(*metadata, ::testing::HasSubstr(R"("$tb":5)"));
  EXPECT_THAT(*metadata, ::testing::HasSubstr(R"("owner":"me")"));
  AppendN(*node_, "s", 3);
  absl::StatusOr<std::vector<RecordedEvent>> events =
      node_->ReadStream("s", ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Revisions(*events), ElementsAre(6, 7));  // $maxCount still applies
}

INSTANTIATE_TEST_SUITE_P(Stores, LogNodeDeleteTest,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite),
                         testing::BackendName);

}  // namespace
}  // namespace esdb::devnode
