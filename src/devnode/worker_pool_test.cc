#include "devnode/worker_pool.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

// A gate that jobs wait on until the test opens it, counting how many wait. Tests declare what
// jobs touch before the pool, so that the pool (which joins its threads) is destroyed first.
class Gate {
 public:
  void Pass() {
    absl::MutexLock lock(&mu_);
    ++waiting_;
    mu_.Await(absl::Condition(&open_));
    --waiting_;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  bool WaitForWaiting(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return waiting_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(WorkerPoolTest, StartsNoThreadBeforeTheFirstJob) {
  WorkerPool pool(WorkerPool::Options{});
  EXPECT_EQ(pool.threads(), 0u);
}

TEST(WorkerPoolTest, RunsEveryJobOnAtMostTheUsualThreadsWhenNoneBlocks) {
  constexpr int kJobs = 10000;
  std::atomic<int> ran{0};
  absl::Notification done;
  WorkerPool pool(WorkerPool::Options{.min_threads = 2, .max_threads = 8});
  for (int i = 0; i < kJobs; ++i) {
    pool.Post([&] {
      if (ran.fetch_add(1) + 1 == kJobs) done.Notify();
    });
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  EXPECT_GE(pool.threads(), 1u);
  EXPECT_LE(pool.threads(), 8u);
}

TEST(WorkerPoolTest, BlockedJobsDoNotStarveTheOthers) {
  Gate gate;
  absl::Notification ran;
  WorkerPool pool(
      WorkerPool::Options{.min_threads = 2, .max_threads = 6, .stall = absl::Milliseconds(10)});
  // Every usual thread blocks, and one more.
  for (int i = 0; i < 3; ++i) pool.Post([&] { gate.Pass(); });
  ASSERT_TRUE(gate.WaitForWaiting(3));  // only possible if the pool grew past min_threads
  pool.Post([&] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  EXPECT_GE(pool.threads(), 4u);
  gate.Open();
}

// Two jobs posted at once to a pool whose one worker is idle: the worker takes the first, which
// blocks, and the second must not wait for it.
TEST(WorkerPoolTest, AJobQueuedBehindABlockedOneStillRuns) {
  for (int round = 0; round < 20; ++round) {
    Gate gate;
    absl::Notification warm, second;
    WorkerPool pool(
        WorkerPool::Options{.min_threads = 1, .max_threads = 2, .stall = absl::Milliseconds(5)});
    pool.Post([&] { warm.Notify(); });
    ASSERT_TRUE(warm.WaitForNotificationWithTimeout(kWait));
    pool.Post([&] { gate.Pass(); });
    pool.Post([&] { second.Notify(); });
    EXPECT_TRUE(second.WaitForNotificationWithTimeout(kWait)) << "round " << round;
    gate.Open();
  }
}

TEST(WorkerPoolTest, GrowthStopsAtMaxThreads) {
  Gate gate;
  std::atomic<int> started{0};
  WorkerPool pool(
      WorkerPool::Options{.min_threads = 1, .max_threads = 2, .stall = absl::Milliseconds(5)});
  for (int i = 0; i < 4; ++i) {
    pool.Post([&] {
      started.fetch_add(1);
      gate.Pass();
    });
  }
  ASSERT_TRUE(gate.WaitForWaiting(2));
  // Many stall periods later, still two: the other jobs wait for a blocked one to return.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(pool.threads(), 2u);
  EXPECT_EQ(started.load(), 2);
  gate.Open();
}

TEST(WorkerPoolTest, ExtraWorkersLeaveWhenIdle) {
  Gate gate;
  WorkerPool pool(WorkerPool::Options{.min_threads = 1,
                                      .max_threads = 4,
                                      .stall = absl::Milliseconds(5),
                                      .idle_exit = absl::Milliseconds(20)});
  for (int i = 0; i < 3; ++i) pool.Post([&] { gate.Pass(); });
  ASSERT_TRUE(gate.WaitForWaiting(3));
  EXPECT_EQ(pool.threads(), 3u);
  gate.Open();
  const absl::Time deadline = absl::Now() + kWait;
  while (pool.threads() > 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(pool.threads(), 1u);
}

TEST(WorkerPoolTest, PostAfterWaitsForTheDelay) {
  absl::Notification ran;
  absl::Time at;
  WorkerPool pool(WorkerPool::Options{});
  const absl::Time posted = absl::Now();
  pool.PostAfter(absl::Milliseconds(50), [&] {
    at = absl::Now();
    ran.Notify();
  });
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  EXPECT_GE(at - posted, absl::Milliseconds(50));
}

TEST(WorkerPoolTest, DestroyingThePoolReleasesEveryJobRunOrNot) {
  Gate gate;
  auto pool = std::make_unique<WorkerPool>(WorkerPool::Options{.min_threads = 1, .max_threads = 1});
  auto witness = std::make_shared<int>(0);
  std::weak_ptr<int> weak = witness;
  pool->Post([&] { gate.Pass(); });
  ASSERT_TRUE(gate.WaitForWaiting(1));
  pool->Post([witness] {});
  pool->PostAfter(absl::Hours(1), [witness] {});
  witness.reset();
  gate.Open();
  pool.reset();
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace esdb::devnode
