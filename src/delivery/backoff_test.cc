#include "delivery/backoff.h"

#include "gtest/gtest.h"

namespace esdb {
namespace {

TEST(BackoffTest, GrowsExponentiallyWithJitterAndCaps) {
  Backoff b(100, 1000, 2.0, /*seed=*/7);
  for (int round = 0; round < 50; ++round) {
    int64_t d1 = b.DelayMs(1), d2 = b.DelayMs(2), d3 = b.DelayMs(3), d10 = b.DelayMs(10);
    EXPECT_GE(d1, 50);
    EXPECT_LE(d1, 100);
    EXPECT_GE(d2, 100);
    EXPECT_LE(d2, 200);
    EXPECT_GE(d3, 200);
    EXPECT_LE(d3, 400);
    EXPECT_GE(d10, 500);
    EXPECT_LE(d10, 1000);
  }
}

TEST(BackoffTest, JitterVaries) {
  Backoff b(1000, 1000, 2.0, /*seed=*/1);
  int64_t first = b.DelayMs(1);
  bool varied = false;
  for (int i = 0; i < 20 && !varied; ++i) varied = b.DelayMs(1) != first;
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace esdb
