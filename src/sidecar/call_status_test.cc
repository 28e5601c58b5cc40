#include "sidecar/call_status.h"

#include "gtest/gtest.h"

namespace esdb::sidecar {
namespace {

TEST(CallStatusTest, ExceptionTrailerDecides) {
  grpc::Status not_found(grpc::StatusCode::NOT_FOUND, "x");
  EXPECT_EQ(ClassifyCall(not_found, {{"exception", "stream-not-found"}}).status,
            ESDB_NODE_STREAM_NOT_FOUND);
  grpc::Status precondition(grpc::StatusCode::FAILED_PRECONDITION, "x");
  EXPECT_EQ(ClassifyCall(precondition, {{"exception", "stream-deleted"}}).status,
            ESDB_NODE_STREAM_DELETED);
  EXPECT_EQ(ClassifyCall(precondition, {{"exception", "wrong-expected-version"}}).status,
            ESDB_NODE_WRONG_EXPECTED_VERSION);
  grpc::Status denied(grpc::StatusCode::PERMISSION_DENIED, "x");
  EXPECT_EQ(ClassifyCall(denied, {{"exception", "access-denied"}}).status, ESDB_NODE_ACCESS_DENIED);
  grpc::Status invalid(grpc::StatusCode::INVALID_ARGUMENT, "x");
  EXPECT_EQ(ClassifyCall(invalid, {{"exception", "maximum-append-size-exceeded"}}).status,
            ESDB_NODE_INVALID_ARGUMENT);
}

TEST(CallStatusTest, NotLeaderCarriesTheLeaderEndpoint) {
  grpc::Status s(grpc::StatusCode::NOT_FOUND, "Leader info available");
  CallOutcome out = ClassifyCall(s, {{"exception", "not-leader"},
                                     {"leader-endpoint-host", "10.0.0.7"},
                                     {"leader-endpoint-port", "2113"}});
  EXPECT_EQ(out.status, ESDB_NODE_NOT_LEADER);
  ASSERT_TRUE(out.leader.has_value());
  EXPECT_EQ(out.leader->ToString(), "10.0.0.7:2113");
  // Without a usable endpoint it is still NOT_LEADER, just with nowhere to go.
  CallOutcome bare = ClassifyCall(s, {{"exception", "not-leader"}, {"leader-endpoint-port", "x"}});
  EXPECT_EQ(bare.status, ESDB_NODE_NOT_LEADER);
  EXPECT_FALSE(bare.leader.has_value());
}

TEST(CallStatusTest, ConnectionTroubleIsUnavailable) {
  for (auto code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                    grpc::StatusCode::CANCELLED, grpc::StatusCode::ABORTED}) {
    CallOutcome out = ClassifyCall(grpc::Status(code, "down"), {});
    EXPECT_EQ(out.status, ESDB_NODE_UNAVAILABLE) << code;
    EXPECT_NE(out.message.find("down"), std::string::npos);
  }
  EXPECT_EQ(ClassifyCall(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, ""), {}).status,
            ESDB_NODE_ACCESS_DENIED);
  EXPECT_EQ(ClassifyCall(grpc::Status(grpc::StatusCode::INTERNAL, ""), {}).status, ESDB_NODE_ERROR);
  EXPECT_EQ(ClassifyCall(grpc::Status::OK, {}).status, ESDB_NODE_OK);
}

}  // namespace
}  // namespace esdb::sidecar
