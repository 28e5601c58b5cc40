#include "delivery/activity_log.h"

#include "gtest/gtest.h"

namespace esdb {
namespace {

Position P(uint64_t commit) { return Position{commit, commit}; }

TEST(ActivityLogTest, FindsANotedPositionInTheWindowOnly) {
  ActivityLog log;
  EXPECT_FALSE(log.FindIn(P(0), P(100)).has_value());
  log.Note(P(10));
  log.Note(P(20));
  EXPECT_EQ(log.FindIn(P(0), P(100)), P(10));
  EXPECT_EQ(log.FindIn(P(10), P(100)), P(20));  // after is exclusive
  EXPECT_EQ(log.FindIn(P(15), P(20)), P(20));   // until is inclusive
  EXPECT_FALSE(log.FindIn(P(11), P(19)).has_value());
  EXPECT_FALSE(log.FindIn(P(20), P(100)).has_value());
}

TEST(ActivityLogTest, KeepsOnlyIncreasingPositions) {
  ActivityLog log;
  log.Note(P(20));
  log.Note(P(10));  // a runner that lags: ignored
  log.Note(P(20));  // seen by another runner: ignored
  EXPECT_FALSE(log.FindIn(P(0), P(15)).has_value());
  EXPECT_EQ(log.FindIn(P(0), P(25)), P(20));
}

TEST(ActivityLogTest, ForgetsTheOldestBeyondItsCapacity) {
  ActivityLog log(/*capacity=*/3);
  for (uint64_t c = 1; c <= 7; ++c) log.Note(P(c * 10));  // keeps 50, 60, 70
  EXPECT_FALSE(log.FindIn(P(0), P(45)).has_value());
  EXPECT_EQ(log.FindIn(P(0), P(100)), P(50));
  EXPECT_EQ(log.FindIn(P(50), P(100)), P(60));
  EXPECT_EQ(log.FindIn(P(65), P(70)), P(70));
  EXPECT_FALSE(log.FindIn(P(70), P(100)).has_value());
}

}  // namespace
}  // namespace esdb
