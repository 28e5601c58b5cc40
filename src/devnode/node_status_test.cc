#include "devnode/node_status.h"

#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

TEST(NodeStatusTest, RoundTripsEveryCodeExactly) {
  for (esdb_node_status s :
       {ESDB_NODE_WRONG_EXPECTED_VERSION, ESDB_NODE_STREAM_NOT_FOUND, ESDB_NODE_STREAM_DELETED,
        ESDB_NODE_NOT_LEADER, ESDB_NODE_UNAVAILABLE, ESDB_NODE_INVALID_ARGUMENT,
        ESDB_NODE_ACCESS_DENIED, ESDB_NODE_ERROR}) {
    EXPECT_EQ(ToNodeStatus(NodeError(s, "m")), s) << esdb_node_status_name(s);
  }
  EXPECT_TRUE(NodeError(ESDB_NODE_OK, "m").ok());
  EXPECT_EQ(NodeError(ESDB_NODE_NOT_LEADER, "m").code(), absl::StatusCode::kUnavailable);
}

TEST(NodeStatusTest, DerivesFromPlainStatuses) {
  EXPECT_EQ(ToNodeStatus(absl::NotFoundError("x")), ESDB_NODE_STREAM_NOT_FOUND);
  EXPECT_EQ(ToNodeStatus(absl::UnknownError("x")), ESDB_NODE_ERROR);
  EXPECT_EQ(ToNodeStatus(absl::OkStatus()), ESDB_NODE_OK);
}

TEST(NodeStatusTest, WrongExpectedVersionCarriesTheActualRevision) {
  absl::Status st = WrongExpectedVersion("s", 3, -1);
  EXPECT_EQ(ToNodeStatus(st), ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(ActualRevision(st), -1);
  EXPECT_FALSE(ActualRevision(absl::AbortedError("x")).has_value());
}

}  // namespace
}  // namespace esdb::devnode
