#include "core/executor.h"

#include <pthread.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

TEST(ExecutorTest, RunsTasksAndTimersInTimeOrder) {
  Executor ex(ExecutorOptions{});
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification done;
  absl::Time now = absl::Now();
  ex.PostAt(now + absl::Milliseconds(60), [&] {
    {
      absl::MutexLock l(&mu);
      order.push_back(3);
    }
    done.Notify();
  });
  ex.PostAt(now + absl::Milliseconds(20), [&] {
    absl::MutexLock l(&mu);
    order.push_back(2);
  });
  ex.Post([&] {
    absl::MutexLock l(&mu);
    order.push_back(1);
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  EXPECT_GE(absl::Now(), now + absl::Milliseconds(60));
  absl::MutexLock l(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(ExecutorTest, ABlockedTaskDoesNotHoldUpTheOthersAndThreadsStayBounded) {
  Executor ex(ExecutorOptions{.min_threads = 1, .max_threads = 3});
  auto release = std::make_shared<absl::Notification>();
  absl::Mutex mu;
  int blocked = 0;
  for (int i = 0; i < 5; ++i) {
    ex.Post([release, &mu, &blocked] {
      {
        absl::MutexLock l(&mu);
        ++blocked;
      }
      release->WaitForNotification();
    });
  }
  // Three threads at most, all held by blocked tasks; the two other tasks wait for a thread.
  {
    absl::MutexLock l(&mu);
    auto three = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return blocked >= 3; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), kWait));
    EXPECT_FALSE(mu.AwaitWithTimeout(absl::Condition(
                                         +[](int* b) { return *b > 3; }, &blocked),
                                     absl::Milliseconds(100)));
  }
  EXPECT_EQ(ex.busy(), 3);
  EXPECT_EQ(ex.threads(), 3);
  release->Notify();
  {
    absl::MutexLock l(&mu);
    auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return blocked == 5; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), kWait));
  }

  // One hung task holds one thread; the next task gets another.
  auto hang = std::make_shared<absl::Notification>();
  ex.Post([hang] { hang->WaitForNotification(); });
  absl::Notification quick;
  ex.Post([&] { quick.Notify(); });
  EXPECT_TRUE(quick.WaitForNotificationWithTimeout(kWait));
  hang->Notify();
}

TEST(ExecutorTest, WithGrowAfterQuickTasksStayOnTheThreadsThereAreAndHungOnesGetMore) {
  // 200 ms: far longer than 2,000 quick tasks take, even when a loaded machine pauses the pool's
  // threads for a few scheduling periods (with 20 ms, such a pause could add a thread).
  constexpr absl::Duration kGrowAfter = absl::Milliseconds(200);
  Executor ex(ExecutorOptions{.min_threads = 2, .max_threads = 8, .grow_after = kGrowAfter});
  // Many quick tasks posted at once: they queue for a moment, which adds no thread.
  std::atomic<int> done{0};
  for (int i = 0; i < 2000; ++i) ex.Post([&] { done++; });
  const absl::Time deadline = absl::Now() + kWait;
  while (done.load() < 2000 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(done.load(), 2000);
  EXPECT_EQ(ex.threads(), 2);

  // Tasks that hang: each one that waits grow_after gets a thread, up to the maximum, so a
  // quick task behind them still runs.
  absl::Notification release;
  for (int i = 0; i < 4; ++i) ex.Post([&] { release.WaitForNotification(); });
  absl::Notification quick;
  const absl::Time posted = absl::Now();
  ex.Post([&] { quick.Notify(); });
  ASSERT_TRUE(quick.WaitForNotificationWithTimeout(kWait));
  EXPECT_GE(absl::Now() - posted, kGrowAfter);
  EXPECT_GE(ex.threads(), 5);
  EXPECT_LE(ex.threads(), 8);
  release.Notify();
}

TEST(ExecutorTest, ThreadsCarryThePoolsName) {
  Executor executor(ExecutorOptions{.min_threads = 1, .max_threads = 1,
                                    .name = "esdb-a-very-long-pool-name"});
  absl::Notification done;
  char name[16] = {};
  executor.Post([&] {
    pthread_getname_np(pthread_self(), name, sizeof name);
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_STREQ(name, "esdb-a-very-lon");  // the kernel keeps 15 characters
}

TEST(ExecutorTest, ShutdownLeavesAHungTaskBehindAndDropsQueuedOnes) {
  auto release = std::make_shared<absl::Notification>();
  auto ran_late = std::make_shared<std::atomic<bool>>(false);
  auto ex = std::make_unique<Executor>(ExecutorOptions{.min_threads = 1, .max_threads = 1});
  auto started = std::make_shared<absl::Notification>();
  ex->Post([release, started] {
    started->Notify();
    release->WaitForNotification();
  });
  ASSERT_TRUE(started->WaitForNotificationWithTimeout(kWait));
  ex->Post([ran_late] { *ran_late = true; });  // queued behind the hung task
  absl::Time t0 = absl::Now();
  EXPECT_FALSE(ex->Shutdown(absl::Milliseconds(100)));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  ex.reset();  // returns at once: the hung thread was detached
  release->Notify();
  EXPECT_FALSE(*ran_late);
}

TEST(SerialTaskTest, NeverRunsTwiceAtOnceAndRunsAfterEveryWakeUp) {
  Executor ex(ExecutorOptions{.min_threads = 4, .max_threads = 4});
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> requested{0};
  absl::Mutex mu;
  int seen = 0;  // the last request a run has seen
  auto task = SerialTask::Create(&ex, [&] {
    if (inside.fetch_add(1) != 0) overlaps++;
    int r = requested.load();
    std::this_thread::yield();  // widen the window in which a second run could start
    inside.fetch_sub(1);
    absl::MutexLock l(&mu);
    seen = std::max(seen, r);
  });
  std::vector<std::thread> wakers;
  for (int t = 0; t < 4; ++t) {
    wakers.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        requested.fetch_add(1);
        task->Schedule();
      }
    });
  }
  for (auto& w : wakers) w.join();
  {
    // Every wake-up is followed by a run that starts after it.
    absl::MutexLock l(&mu);
    auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return seen == 8000; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), kWait));
  }
  EXPECT_EQ(overlaps.load(), 0);
  task->Close();
}

TEST(SerialTaskTest, ScheduleAtWaitsAndCloseStopsLaterRuns) {
  Executor ex(ExecutorOptions{});
  std::atomic<int> runs{0};
  absl::Notification ran;
  auto task = SerialTask::Create(&ex, [&] {
    runs++;
    ran.Notify();
  });
  absl::Time t0 = absl::Now();
  task->ScheduleAt(t0 + absl::Milliseconds(50));
  task->ScheduleAt(t0 + absl::Seconds(30));  // later than the pending one: kept out
  ASSERT_TRUE(ran.WaitForNotificationWithTimeout(kWait));
  EXPECT_GE(absl::Now(), t0 + absl::Milliseconds(50));
  task->Close();
  task->Schedule();
  absl::Notification flushed;
  ex.Post([&] { flushed.Notify(); });
  ASSERT_TRUE(flushed.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(runs.load(), 1);
}

TEST(SerialTaskTest, RunHereRunsOnTheCallingThreadOnlyWhenTheTaskIsFree) {
  Executor ex(ExecutorOptions{.min_threads = 2, .max_threads = 2});
  std::atomic<int> runs{0};
  std::atomic<bool> on_caller{false};
  absl::Notification entered, release;
  std::atomic<bool> hold{false};
  const std::thread::id caller = std::this_thread::get_id();
  auto task = SerialTask::Create(&ex, [&] {
    runs++;
    on_caller = std::this_thread::get_id() == caller;
    if (hold.exchange(false)) {
      entered.Notify();
      release.WaitForNotification();
    }
  });
  // Free: it runs right here, before RunHere returns.
  task->RunHere();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_TRUE(on_caller.load());

  // Running elsewhere: RunHere neither waits nor runs it twice at once; one more run follows.
  hold = true;
  task->Schedule();
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(kWait));
  task->RunHere();
  EXPECT_EQ(runs.load(), 2);
  release.Notify();
  const absl::Time deadline = absl::Now() + kWait;
  while (runs.load() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(runs.load(), 3);
  EXPECT_FALSE(on_caller.load());

  // Closed: nothing runs.
  task->Close();
  task->RunHere();
  EXPECT_EQ(runs.load(), 3);
}

}  // namespace
}  // namespace esdb
