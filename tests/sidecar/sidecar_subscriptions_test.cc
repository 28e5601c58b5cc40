// The side-car's subscriptions own no threads. They run through the side-car's node ABI in this
// process against the dev node as a child process, so every thread of this process is the
// side-car's, gRPC's or the test's, and the count says what the subscriptions cost: hundreds of
// them leave it flat, each still getting exactly its own events in order.
//
// gRPC 1.51 on Linux runs the reactions of every callback-API call of a process on one fixed set
// of threads, "nexting_thread" in /proc (max(2, min(cores / 2, 16)) of them; the side-car's
// subscriptions deliver their callbacks from there). A blocking on_events holds one of them: the
// tests block one subscription, fewer than there are such threads, and check that another keeps
// receiving, on another of those threads, and that everything held back arrives, in order, once
// the callback returns.
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "child_process.h"
#include "gtest/gtest.h"
#include "node/node_client.h"
#include "sidecar/connection_string.h"
#include "sidecar/grpc_node.h"
#include "sidecar/grpc_subscription.h"
#include "sidecar/node_api.h"
#include "sidecar/node_connection.h"

namespace esdb::sidecar_test {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);
// Messages a subscription reads ahead of its callbacks: small, so that a blocked on_events
// stops its subscription's reading after a few events (as 4096 would after more).
constexpr size_t kQueue = 16;
// A blocked subscription is sent this many: many times what it reads ahead.
constexpr int kHeldBack = 2000;

// Threads of this process by name (/proc/self/task/*/comm).
std::map<std::string, int> ThreadNames() {
  std::map<std::string, int> names;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return names;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(absl::StrCat("/proc/self/task/", entry->d_name, "/comm"));
    std::string name;
    std::getline(comm, name);
    ++names[name];
  }
  ::closedir(dir);
  return names;
}

// This thread's id and name.
struct ThreadId {
  pid_t tid = 0;
  std::string name;
  bool operator<(const ThreadId& o) const { return tid < o.tid; }
};
ThreadId ThisThread() {
  std::ifstream comm("/proc/thread-self/comm");
  ThreadId id{static_cast<pid_t>(::syscall(SYS_gettid)), ""};
  std::getline(comm, id.name);
  return id;
}

int ThreadCount() {
  int n = 0;
  for (const auto& [name, count] : ThreadNames()) n += count;
  return n;
}

std::string Describe(const std::map<std::string, int>& names) {
  std::string out;
  for (const auto& [name, count] : names) absl::StrAppend(&out, name, " x", count, "; ");
  return out;
}

// One subscription's callbacks, and the threads on_events ran on. After Hold(release), on_events
// blocks (holding the thread it runs on) until `release` is notified.
class Collector : public SubscriptionHandler {
 public:
  void OnEvents(std::vector<Record> events) override {
    const ThreadId thread = ThisThread();
    if (hold_ != nullptr && !hold_->HasBeenNotified()) {
      if (!blocked_.HasBeenNotified()) {
        blocked_on_ = thread;
        blocked_.Notify();
      }
      hold_->WaitForNotification();
    }
    absl::MutexLock lock(&mu_);
    for (Record& r : events) records_.push_back(std::move(r));
    threads_.insert(thread);
  }
  void OnCheckpoint(Position) override {}
  void OnCaughtUp(Position) override {
    absl::MutexLock lock(&mu_);
    caught_up_ = true;
  }
  void OnDropped(absl::Status why) override {
    absl::MutexLock lock(&mu_);
    dropped_ = true;
    why_ = why;
  }

  void Hold(absl::Notification* release) { hold_ = release; }
  bool WaitUntilBlocked() { return blocked_.WaitForNotificationWithTimeout(kWait); }
  // The thread on_events first blocked on (after WaitUntilBlocked).
  const ThreadId& blocked_on() const { return blocked_on_; }
  std::set<ThreadId> threads() {
    absl::MutexLock lock(&mu_);
    return threads_;
  }

  bool WaitForRecords(size_t n) {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return records_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
  }
  bool WaitForCaughtUp() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&caught_up_), kWait);
  }
  std::vector<Record> records() {
    absl::MutexLock lock(&mu_);
    return records_;
  }
  std::string dropped() {
    absl::MutexLock lock(&mu_);
    return dropped_ ? why_.ToString() : "";
  }

 private:
  absl::Notification* hold_ = nullptr;  // set before subscribing
  absl::Notification blocked_;
  ThreadId blocked_on_;  // written before blocked_ is notified
  absl::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
  std::set<ThreadId> threads_ ABSL_GUARDED_BY(mu_);
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status why_ ABSL_GUARDED_BY(mu_);
};

SubscribeOptions StreamPrefix(const std::string& prefix) {
  SubscribeOptions o;
  o.filter.enabled = true;
  o.filter.scope = FilterScope::kStream;
  o.filter.prefixes = {prefix};
  return o;
}

EventData Event(int n) {
  EventData e;
  e.event_type = "Tested";
  e.data = absl::StrCat(R"({"n":)", n, "}");
  return e;
}

// `records` are exactly events 0..count-1 of `stream`, in order.
void ExpectExactly(const std::vector<Record>& records, const std::string& stream, size_t count) {
  ASSERT_EQ(records.size(), count) << stream;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].stream, stream);
    EXPECT_EQ(records[i].revision, i) << stream;
    EXPECT_EQ(records[i].data, Event(static_cast<int>(i)).data) << stream;
  }
}

class SidecarSubscriptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("sidecar-subs-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                        getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    node_ = std::make_unique<ChildProcess>("devnode", dir_ / "logs", [this] {
      return std::vector<std::string>{BinaryPath("esdb-devnode"),
                                      "--db",
                                      (dir_ / "node.db").string(),
                                      "--http-port",
                                      "0",
                                      "--grpc-port",
                                      "0",  // the node's pick, read from what it prints
                                      "--connectors-library",
                                      "none",
                                      "--log-level",
                                      "warn",
                                      "--insecure"};
    });
    ASSERT_TRUE(node_->Start().ok()) << node_->Logs();

    auto settings = sidecar::ParseConnectionString(absl::StrCat(
        "kurrentdb://127.0.0.1:", node_->grpc_port(), "?tls=false&defaultDeadline=10000"));
    ASSERT_TRUE(settings.ok()) << settings.status();
    auto connection = sidecar::NodeConnection::Create(*settings);
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = *std::move(connection);
    grpc_node_ = std::make_unique<sidecar::GrpcNode>(connection_.get(), "sidecar-1");
    sidecar::NodeApiOptions options;
    options.subscription_queue = kQueue;
    api_ = std::make_unique<sidecar::SidecarNodeApi>(grpc_node_.get(), options);
    client_ = std::make_unique<NodeClient>(api_->api());
  }
  void TearDown() override {
    if (HasFailure() && node_ != nullptr) ADD_FAILURE() << node_->Logs();
    client_.reset();
    api_.reset();
    grpc_node_.reset();
    connection_.reset();
    node_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Appends events first..first+count-1 to `stream`, a few hundred per call.
  void Append(const std::string& stream, int first, int count = 1) {
    for (int from = first; from < first + count; from += 500) {
      std::vector<EventData> events;
      for (int n = from; n < std::min(first + count, from + 500); ++n) events.push_back(Event(n));
      auto appended = client_->Append(stream, ESDB_EXPECT_ANY, events);
      ASSERT_TRUE(appended.ok()) << appended.status();
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> node_;
  std::unique_ptr<sidecar::NodeConnection> connection_;
  std::unique_ptr<sidecar::GrpcNode> grpc_node_;
  std::unique_ptr<sidecar::SidecarNodeApi> api_;
  std::unique_ptr<NodeClient> client_;
};

TEST_F(SidecarSubscriptionsTest, HundredsOfSubscriptionsCostNoThreadEachAndGetTheirOwnEvents) {
  // gRPC starts its threads with the first calls: count from after one subscription.
  {
    Collector warm_up;
    auto sub = client_->SubscribeAll(StreamPrefix("warm-up-"), &warm_up);
    ASSERT_TRUE(sub.ok()) << sub.status();
    ASSERT_TRUE(warm_up.WaitForCaughtUp());
  }
  const auto names_before = ThreadNames();
  const int before = ThreadCount();

  constexpr int kSubscriptions = 200;
  constexpr int kEvents = 5;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<Subscription>> subscriptions;
  for (int i = 0; i < kSubscriptions; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    // "s-1-" does not match "s-10-x": each subscription sees its own stream only.
    auto sub =
        client_->SubscribeAll(StreamPrefix(absl::StrCat("s-", i, "-")), collectors.back().get());
    ASSERT_TRUE(sub.ok()) << i << ": " << sub.status();
    subscriptions.push_back(*std::move(sub));
  }
  // Interleaved: every stream gets its n-th event before any gets its n+1-th.
  for (int n = 0; n < kEvents; ++n) {
    for (int i = 0; i < kSubscriptions; ++i) Append(absl::StrCat("s-", i, "-x"), n);
  }
  for (int i = 0; i < kSubscriptions; ++i) {
    ASSERT_TRUE(collectors[i]->WaitForRecords(kEvents)) << i;
  }
  const auto names_live = ThreadNames();
  const int live = ThreadCount();
  for (int i = 0; i < kSubscriptions; ++i) {
    ExpectExactly(collectors[i]->records(), absl::StrCat("s-", i, "-x"), kEvents);
    EXPECT_EQ(collectors[i]->dropped(), "") << i;
  }
  subscriptions.clear();  // each waits for its call's end: none runs a callback any more

  // The old design (a reader and a dispatcher thread per subscription) grew by 400 here.
  EXPECT_LE(live - before, 16) << "before: " << Describe(names_before) << "\nwith "
                               << kSubscriptions << " subscriptions: " << Describe(names_live);
}

TEST_F(SidecarSubscriptionsTest, ABlockedOnEventsHoldsOneGrpcThreadAndOnlyItsOwnSubscription) {
  absl::Notification release;
  Collector held;
  held.Hold(&release);
  Collector free;
  auto held_sub = client_->SubscribeAll(StreamPrefix("held-"), &held);
  ASSERT_TRUE(held_sub.ok()) << held_sub.status();
  auto free_sub = client_->SubscribeAll(StreamPrefix("free-"), &free);
  ASSERT_TRUE(free_sub.ok()) << free_sub.status();

  Append("held-x", 0);
  ASSERT_TRUE(held.WaitUntilBlocked());
  // Far more than it reads ahead: its reading stops, and gRPC flow control holds the node back.
  Append("held-x", 1, kHeldBack - 1);
  // Meanwhile the other subscription goes on, one event at a time.
  constexpr int kFree = 50;
  for (int n = 0; n < kFree; ++n) {
    Append("free-x", n);
    ASSERT_TRUE(free.WaitForRecords(n + 1)) << n;
  }
  ExpectExactly(free.records(), "free-x", kFree);
  EXPECT_TRUE(held.records().empty());
  // Both on gRPC's callback threads, no thread of a subscription's own: the blocked callback
  // holds one of them and the other subscription was served by another. That gRPC has more than
  // one is what this test relies on; with all of them blocked the other would wait.
  const auto names = ThreadNames();
  EXPECT_EQ(held.blocked_on().name, "nexting_thread") << Describe(names);
  for (const ThreadId& t : free.threads()) {
    EXPECT_EQ(t.name, "nexting_thread") << Describe(names);
    EXPECT_NE(t.tid, held.blocked_on().tid);
  }

  // Once on_events returns, everything held back arrives, in order.
  release.Notify();
  ASSERT_TRUE(held.WaitForRecords(kHeldBack));
  ExpectExactly(held.records(), "held-x", kHeldBack);
  EXPECT_EQ(held.dropped(), "");
  EXPECT_EQ(free.dropped(), "");
}

TEST_F(SidecarSubscriptionsTest, ASubscriptionEndsAtOnceWhileItsReadingIsStopped) {
  absl::Notification release;
  Collector held;
  held.Hold(&release);
  auto sub = client_->SubscribeAll(StreamPrefix("held-"), &held);
  ASSERT_TRUE(sub.ok()) << sub.status();
  Append("held-x", 0, kHeldBack);
  ASSERT_TRUE(held.WaitUntilBlocked());
  release.Notify();
  // Whatever it is doing (delivering, reading or waiting to read again), it stops and returns
  // once no callback runs; it was ended, so it is not dropped.
  sub->reset();
  const size_t delivered = held.records().size();
  EXPECT_LE(delivered, static_cast<size_t>(kHeldBack));
  EXPECT_EQ(held.dropped(), "");
  ExpectExactly(held.records(), "held-x", delivered);

  // The connection is as good as before: a new subscription reads the lot.
  Collector again;
  auto resubscribed = client_->SubscribeAll(StreamPrefix("held-"), &again);
  ASSERT_TRUE(resubscribed.ok()) << resubscribed.status();
  ASSERT_TRUE(again.WaitForRecords(kHeldBack));
  ExpectExactly(again.records(), "held-x", kHeldBack);
}

}  // namespace
}  // namespace esdb::sidecar_test
