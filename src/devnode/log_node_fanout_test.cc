// Live subscriptions at scale: one shared tail fans appends out to many subscriptions whose
// callbacks run on a small shared pool. Exactly the matching events in order for each, a
// hand-over from catch-up to the tail that loses and repeats nothing, a thread count that does
// not follow the number of subscriptions, blocked consumers that stop nobody else, and appends
// that cost non-matching subscriptions nothing. Both stores.
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "devnode/log_node.h"
#include "devnode/log_node_test_util.h"
#include "devnode/log_tail.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

using testing::AppendN;
using testing::Backend;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::Event;
using testing::kWait;
using testing::Positions;
using testing::Recorder;
using testing::SubscribeOptions;

size_t ProcessThreads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

// What one subscription received, as ('e', position) for each event, ('c', position) for each
// checkpoint and ('u', position) for caught-up; positions only, so that hundreds of
// subscriptions stay cheap to follow.
class Trace {
 public:
  struct Step {
    char kind;
    uint64_t position;
    bool operator==(const Step& other) const {
      return kind == other.kind && position == other.position;
    }
  };

  esdb_subscription_callbacks Callbacks() {
    esdb_subscription_callbacks cb{};
    cb.struct_size = sizeof(cb);
    cb.user = this;
    cb.on_events = [](void* user, const esdb_recorded_event* const* events, size_t count) {
      auto* self = static_cast<Trace*>(user);
      self->Enter();
      for (size_t i = 0; i < count; ++i) self->Add('e', events[i]->position.commit);
      self->Leave();
    };
    cb.on_checkpoint = [](void* user, esdb_position p) {
      auto* self = static_cast<Trace*>(user);
      self->Enter();
      self->Add('c', p.commit);
      self->Leave();
    };
    cb.on_caught_up = [](void* user, esdb_position p) {
      auto* self = static_cast<Trace*>(user);
      self->Enter();
      self->Add('u', p.commit);
      self->Leave();
    };
    return cb;
  }

  // Waits until `n` events and checkpoints (caught-up not counted) and caught-up have arrived.
  bool WaitForSteps(size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    absl::MutexLock lock(&mu_);
    while (counted_ < n || !caught_up_) {
      if (changed_.WaitWithDeadline(&mu_, deadline) && (counted_ < n || !caught_up_)) {
        return false;
      }
    }
    return true;
  }

  // Events and checkpoints, in the order received.
  std::vector<Step> steps() const {
    absl::MutexLock lock(&mu_);
    std::vector<Step> out;
    for (const Step& s : steps_) {
      if (s.kind != 'u') out.push_back(s);
    }
    return out;
  }
  int caught_up() const {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const Step& s : steps_) n += s.kind == 'u';
    return n;
  }
  int overlaps() const { return overlaps_.load(); }

 private:
  void Enter() {
    if (inside_.fetch_add(1) != 0) overlaps_.fetch_add(1);
  }
  void Leave() { inside_.fetch_sub(1); }
  void Add(char kind, uint64_t position) {
    absl::MutexLock lock(&mu_);
    steps_.push_back(Step{kind, position});
    if (kind != 'u') ++counted_;
    if (kind == 'u') caught_up_ = true;
    changed_.SignalAll();
  }

  mutable absl::Mutex mu_;
  std::vector<Step> steps_ ABSL_GUARDED_BY(mu_);
  absl::CondVar changed_;
  size_t counted_ ABSL_GUARDED_BY(mu_) = 0;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> inside_{0};
  std::atomic<int> overlaps_{0};
};

class LogNodeFanOutTest : public testing::LogNodeFixture {
 protected:
  void Reopen(LogNodeOptions options) {
    node_.reset();
    node_ = OpenNode(options);
    ASSERT_NE(node_, nullptr);
  }

  std::unique_ptr<LogNode::Subscription> SubscribeAll(const esdb_subscribe_options& options,
                                                      const esdb_subscription_callbacks& cb) {
    absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub = node_->SubscribeAll(options, cb);
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? *std::move(sub) : nullptr;
  }

  // A node with `read_batch` and a live subscription of `recorder` whose callback is running
  // (blocked) on the first event appended: what comes next waits in the tail for its turn.
  std::unique_ptr<LogNode::Subscription> SubscriberInACallback(Recorder& recorder,
                                                               size_t read_batch) {
    LogNodeOptions options = TestOptions();
    options.read_batch = read_batch;
    options.max_pending_events = 1000;
    node_.reset();
    node_ = OpenNode(options);
    if (node_ == nullptr) return nullptr;
    auto sub = SubscribeAll(SubscribeOptions(ESDB_FROM_START), recorder.Callbacks());
    if (sub == nullptr || !recorder.WaitForCaughtUp()) return nullptr;
    recorder.BlockEvents();
    AppendN(*node_, "s", 1);
    return recorder.WaitUntilBlocked() ? std::move(sub) : nullptr;
  }

  static esdb_subscribe_options Prefixes(int32_t scope, const std::vector<const char*>& prefixes,
                                         uint32_t checkpoint_interval = 1000) {
    esdb_subscribe_options options = SubscribeOptions(ESDB_FROM_START);
    options.filter_scope = scope;
    options.filter_prefixes = prefixes.data();
    options.filter_prefix_count = prefixes.size();
    options.checkpoint_interval = checkpoint_interval;
    return options;
  }
};

// A subscription of the big test: its filter, and the same rule written out independently.
struct Subscriber {
  int kind = 0;  // 0 stream prefix, 1 event-type prefix, 2 stream regex, 3 all, 4 one stream
  int group = 0;
  uint32_t interval = 0;
  std::string prefix;
  std::string regex;
  std::string stream;
  Trace trace;
  std::unique_ptr<LogNode::Subscription> handle;

  bool Wants(const RecordedEvent& e) const {
    switch (kind) {
      case 0:
        return absl::StartsWith(e.stream, prefix);
      case 1:
        return absl::StartsWith(e.event_type, prefix);
      case 2: {
        const char last = e.stream.back();
        return absl::StartsWith(e.stream, prefix) && (last - '0') % 2 == 0;
      }
      case 3:
        return true;
      default:
        return e.stream == stream;
    }
  }
};

TEST_P(LogNodeFanOutTest, FiveHundredFilteredSubscriptionsEachGetExactlyTheirEventsInOrder) {
  LogNodeOptions options = TestOptions();
  options.idle_checkpoint_delay = absl::InfiniteDuration();  // checkpoints by interval only
  Reopen(options);
  // Streams p<g>-<j> (10 groups of 5), event types T<(g+j)%10>.
  auto append = [this](int n, int salt) {
    for (int i = 0; i < n; ++i) {
      const int g = (i * 7 + salt) % 10;
      const int j = (i + salt) % 5;
      ASSERT_TRUE(node_
                      ->Append(absl::StrCat("p", g, "-", j), ESDB_EXPECT_ANY,
                               {Event(absl::StrCat("T", (g + j) % 10))})
                      .ok());
    }
  };
  append(100, 0);  // there before anyone subscribes: read while catching up

  constexpr int kSubscribers = 500;
  std::vector<std::unique_ptr<Subscriber>> subs;
  // Writers keep appending while the subscriptions catch up and join the tail.
  std::thread writer_a([&] { append(150, 1); });
  std::thread writer_b([&] { append(150, 2); });
  for (int i = 0; i < kSubscribers; ++i) {
    auto s = std::make_unique<Subscriber>();
    s->kind = i % 5;
    s->group = (i / 5) % 10;
    s->interval = 5 + i % 7;
    s->prefix = s->kind == 1 ? absl::StrCat("T", s->group) : absl::StrCat("p", s->group, "-");
    std::vector<const char*> prefixes = {s->prefix.c_str()};
    esdb_subscribe_options o = SubscribeOptions(ESDB_FROM_START);
    o.checkpoint_interval = s->interval;
    switch (s->kind) {
      case 0:
        o = Prefixes(ESDB_FILTER_STREAM, prefixes, s->interval);
        break;
      case 1:
        o = Prefixes(ESDB_FILTER_EVENT_TYPE, prefixes, s->interval);
        break;
      case 2:
        s->regex = absl::StrCat("^p", s->group, "-[0-9]*[02468]$");
        o.filter_scope = ESDB_FILTER_STREAM;
        o.filter_regex = s->regex.c_str();
        break;
      default:
        break;
    }
    if (s->kind == 4) {
      s->stream = absl::StrCat("p", s->group, "-", i % 5);
      absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
          node_->SubscribeStream(s->stream, LogNode::StreamFrom::kStart, 0, s->trace.Callbacks());
      ASSERT_TRUE(sub.ok()) << sub.status();
      s->handle = *std::move(sub);
    } else {
      s->handle = SubscribeAll(o, s->trace.Callbacks());
    }
    subs.push_back(std::move(s));
  }
  writer_a.join();
  writer_b.join();

  absl::StatusOr<std::vector<RecordedEvent>> log =
      node_->ReadAll(ReadDirection::kForwards, 0, 1000);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 400u);
  for (const std::unique_ptr<Subscriber>& s : subs) {
    // Matching events in log order, each checkpoint after the events up to it.
    std::vector<Trace::Step> expected;
    for (const RecordedEvent& e : *log) {
      if (s->Wants(e)) expected.push_back({'e', e.position});
      if (s->kind != 4 && e.position % s->interval == 0) expected.push_back({'c', e.position});
    }
    ASSERT_TRUE(s->trace.WaitForSteps(expected.size())) << "subscriber kind " << s->kind;
    EXPECT_THAT(s->trace.steps(), ElementsAreArray(expected)) << "subscriber kind " << s->kind;
    EXPECT_EQ(s->trace.caught_up(), 1);
    EXPECT_EQ(s->trace.overlaps(), 0);
  }
}

// The delicate part: appends racing with a subscription's last catch-up read and its joining of
// the tail. Each round subscribes while a writer appends; whatever the interleaving, the
// subscription gets every event after its start exactly once, in order. A tiny pending bound
// also makes the tail let it go and take it back, again and again, during the race.
TEST_P(LogNodeFanOutTest, AppendsRacingWithTheHandOverAreDeliveredExactlyOnceInOrder) {
  LogNodeOptions options = TestOptions();
  options.read_batch = 2;
  options.max_pending_events = 3;
  Reopen(options);
  const int rounds = GetParam() == Backend::kMemory ? 300 : 100;
  constexpr int kEvents = 12;
  for (int round = 0; round < rounds; ++round) {
    const uint64_t start = node_->LastPosition();
    std::atomic<bool> go{false};
    std::thread writer([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kEvents; ++i) AppendN(*node_, absl::StrCat("race-", i % 3), 1);
    });
    Recorder recorder;
    // Half the rounds let the writer start first, half subscribe first.
    if (round % 2 == 0) go.store(true);
    absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
        node_->SubscribeAll(SubscribeOptions(ESDB_FROM_POSITION, start), recorder.Callbacks());
    ASSERT_TRUE(sub.ok()) << sub.status();
    go.store(true);
    writer.join();
    ASSERT_TRUE(recorder.WaitForEventCount(kEvents)) << "round " << round;
    std::vector<uint64_t> want;
    for (uint64_t p = start + 1; p <= start + kEvents; ++p) want.push_back(p);
    ASSERT_THAT(Positions(recorder.events()), ElementsAreArray(want)) << "round " << round;
    sub->reset();
    EXPECT_EQ(recorder.overlaps(), 0);
  }
}

// The other side of the hand-over, made certain with the commit hook: the subscription reads an
// event the store has committed but the tail has not published yet, and joins the tail past
// what it has published. The tail must not queue that event again.
TEST_P(LogNodeFanOutTest, AnEventReadBeforeTheTailPublishesItIsDeliveredOnce) {
  AppendN(*node_, "a", 3);
  Recorder recorder;
  absl::Notification committed;
  node_->SetCommitHook([&recorder, &committed] {
    // Held between the commit of position 4 and its publication until the subscription has
    // read it and joined the tail.
    committed.Notify();
    EXPECT_TRUE(recorder.WaitForCaughtUp());
  });
  std::thread appender([this] { AppendN(*node_, "a", 1); });
  ASSERT_TRUE(committed.WaitForNotificationWithTimeout(kWait));
  auto sub = SubscribeAll(SubscribeOptions(ESDB_FROM_START), recorder.Callbacks());
  appender.join();
  node_->SetCommitHook(nullptr);
  ASSERT_EQ(recorder.calls().back().kind, Recorder::Call::kCaughtUp);
  EXPECT_EQ(recorder.calls().back().position, 4u);
  AppendN(*node_, "a", 1);
  ASSERT_TRUE(recorder.WaitForEventCount(5));
  EXPECT_THAT(Positions(recorder.events()), ElementsAre(1, 2, 3, 4, 5));
}

// Live events come from the append, not from a read: they must be the very events the log holds
// (positions, revisions, ids, payloads), also for a batch over several streams, one named twice.
TEST_P(LogNodeFanOutTest, LiveEventsAreTheEventsTheLogHolds) {
  AppendN(*node_, "x", 2);
  Recorder recorder;
  auto sub = SubscribeAll(SubscribeOptions(ESDB_FROM_END), recorder.Callbacks());
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  std::vector<StreamEvents> batch;
  batch.push_back(StreamEvents{"x", ESDB_EXPECT_ANY, {Event("A", R"({"n":1})"), Event("B")}});
  batch.push_back(StreamEvents{"y", ESDB_EXPECT_NO_STREAM, {Event("C", "binary\x01")}});
  batch.push_back(StreamEvents{"x", 3, {Event("D", R"({"n":4})")}});
  batch[1].events[0].content_type = "application/octet-stream";
  batch[1].events[0].metadata = R"({"m":true})";
  ASSERT_TRUE(node_->AppendBatch(std::move(batch)).ok());
  ASSERT_TRUE(recorder.WaitForEventCount(4));
  absl::StatusOr<std::vector<RecordedEvent>> stored =
      node_->ReadAll(ReadDirection::kForwards, 3, 10);
  ASSERT_TRUE(stored.ok());
  std::vector<RecordedEvent> live = recorder.events();
  ASSERT_EQ(live.size(), stored->size());
  for (size_t i = 0; i < live.size(); ++i) {
    const RecordedEvent& a = live[i];
    const RecordedEvent& b = (*stored)[i];
    EXPECT_EQ(a.position, b.position);
    EXPECT_EQ(a.stream, b.stream);
    EXPECT_EQ(a.revision, b.revision);
    EXPECT_EQ(a.event_id, b.event_id);
    EXPECT_EQ(a.event_type, b.event_type);
    EXPECT_EQ(a.content_type, b.content_type);
    EXPECT_EQ(a.data, b.data);
    EXPECT_EQ(a.metadata, b.metadata);
    EXPECT_EQ(a.created_unix_us, b.created_unix_us);
  }
  EXPECT_THAT(testing::Revisions(live), ElementsAre(2, 3, 0, 4));
}

TEST_P(LogNodeFanOutTest, ThreadCountDoesNotGrowWithTheNumberOfSubscriptions) {
  LogNodeOptions options = TestOptions();
  options.max_subscription_threads = 8;
  options.idle_checkpoint_delay = absl::InfiniteDuration();
  Reopen(options);
  AppendN(*node_, "warm-up", 10);
  // One subscription first, so the node's pool has started before the count.
  Trace first;
  auto first_sub = SubscribeAll(SubscribeOptions(ESDB_FROM_START), first.Callbacks());
  ASSERT_TRUE(first.WaitForSteps(10));
  const size_t before = ProcessThreads();

  constexpr int kSubscribers = 500;
  std::vector<std::unique_ptr<Trace>> traces;
  std::vector<std::unique_ptr<LogNode::Subscription>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    traces.push_back(std::make_unique<Trace>());
    subs.push_back(SubscribeAll(SubscribeOptions(ESDB_FROM_START), traces.back()->Callbacks()));
  }
  AppendN(*node_, "live", 20);
  for (const std::unique_ptr<Trace>& t : traces) ASSERT_TRUE(t->WaitForSteps(30));
  const size_t during = ProcessThreads();
  // A thread per subscription would add 500; the pool may only grow to its bound.
  EXPECT_LE(during, before + options.max_subscription_threads) << before << " -> " << during;
  subs.clear();
  EXPECT_LE(ProcessThreads(), before + options.max_subscription_threads);
}

TEST_P(LogNodeFanOutTest, ConsumersThatBlockDoNotStopTheOthers) {
  LogNodeOptions options = TestOptions();
  options.subscription_threads = 2;
  options.max_subscription_threads = 16;
  options.max_pending_events = 8;
  Reopen(options);
  // More blocked consumers than the pool's usual threads: the rest can only go on if the pool
  // grows past them, and the appends must not wait for them either.
  constexpr int kBlocked = 3;
  std::vector<std::unique_ptr<Recorder>> blocked;
  std::vector<std::unique_ptr<LogNode::Subscription>> blocked_subs;
  for (int i = 0; i < kBlocked; ++i) {
    blocked.push_back(std::make_unique<Recorder>());
    blocked.back()->BlockEvents();
    absl::StatusOr<std::unique_ptr<LogNode::Subscription>> sub =
        node_->SubscribeAll(SubscribeOptions(ESDB_FROM_START), blocked.back()->Callbacks());
    ASSERT_TRUE(sub.ok());
    blocked_subs.push_back(*std::move(sub));
  }
  AppendN(*node_, "a", 1);
  for (const std::unique_ptr<Recorder>& r : blocked) ASSERT_TRUE(r->WaitUntilBlocked());

  Recorder free;
  absl::StatusOr<std::unique_ptr<LogNode::Subscription>> free_sub =
      node_->SubscribeAll(SubscribeOptions(ESDB_FROM_START), free.Callbacks());
  ASSERT_TRUE(free_sub.ok());
  for (int i = 0; i < 40; ++i) AppendN(*node_, "b", 1);  // far past max_pending_events
  ASSERT_TRUE(free.WaitForEventCount(41));
  // Ending a subscription waits for its own callbacks only, not for the blocked ones.
  free_sub->reset();

  std::vector<uint64_t> all;
  for (uint64_t p = 1; p <= 41; ++p) all.push_back(p);
  for (const std::unique_ptr<Recorder>& r : blocked) r->Release();
  // Let go by the tail while blocked, they read the rest from the log, in order, once.
  for (const std::unique_ptr<Recorder>& r : blocked) {
    ASSERT_TRUE(r->WaitForEventCount(41));
    EXPECT_THAT(Positions(r->events()), ElementsAreArray(all));
  }
  // And they are live again.
  AppendN(*node_, "c", 1);
  for (const std::unique_ptr<Recorder>& r : blocked) {
    ASSERT_TRUE(r->WaitForEventCount(42));
    EXPECT_EQ(r->events().back().position, 42u);
    EXPECT_EQ(r->overlaps(), 0);
  }
}

TEST_P(LogNodeFanOutTest, AnAppendToAnUnmatchedStreamCallsNoCallbackOfOtherSubscriptions) {
  LogNodeOptions options = TestOptions();
  options.idle_checkpoint_delay = absl::InfiniteDuration();
  Reopen(options);
  Recorder a, b;
  auto sub_a = SubscribeAll(Prefixes(ESDB_FILTER_STREAM, {"a-"}), a.Callbacks());
  auto sub_b = SubscribeAll(Prefixes(ESDB_FILTER_STREAM, {"b-"}), b.Callbacks());
  auto sub_s = node_->SubscribeStream("b-1", LogNode::StreamFrom::kStart, 0, b.Callbacks());
  ASSERT_TRUE(sub_s.ok());
  ASSERT_TRUE(
      b.WaitUntil([](const std::vector<Recorder::Call>& calls) { return calls.size() == 2; }));
  ASSERT_TRUE(a.WaitForCaughtUp());
  const size_t b_calls = b.calls().size();

  for (int i = 0; i < 100; ++i) AppendN(*node_, "a-1", 1);
  AppendN(*node_, "b-1", 1);
  // Both of b's subscriptions get the one event; nothing else was called on their account.
  ASSERT_TRUE(b.WaitForEventCount(2));
  std::vector<Recorder::Call> calls = b.calls();
  ASSERT_EQ(calls.size(), b_calls + 2);
  for (size_t i = b_calls; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].kind, Recorder::Call::kEvents);
    EXPECT_THAT(Positions(calls[i].events), ElementsAre(101));
  }
  ASSERT_TRUE(a.WaitForEventCount(100));
  EXPECT_EQ(a.events().size(), 100u);
}

TEST_P(LogNodeFanOutTest, IdleNoticesComeOncePerDelayNotOncePerAppend) {
  LogNodeOptions options = TestOptions();
  options.idle_checkpoint_delay = absl::Milliseconds(200);
  Reopen(options);
  Recorder recorder;
  auto sub = SubscribeAll(Prefixes(ESDB_FILTER_STREAM, {"wanted"}), recorder.Callbacks());
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  constexpr int kAppends = 200;
  const absl::Time began = absl::Now();
  for (int i = 0; i < kAppends; ++i) AppendN(*node_, "noise", 1);
  const absl::Duration took = absl::Now() - began;
  const uint64_t last = node_->LastPosition();
  ASSERT_TRUE(recorder.WaitUntil([last](const std::vector<Recorder::Call>& calls) {
    return calls.back().kind == Recorder::Call::kCheckpoint && calls.back().position == last;
  }));
  // One notice per delay while appends go on, and one after: never one per append.
  const size_t bound = static_cast<size_t>(took / options.idle_checkpoint_delay) + 2;
  EXPECT_LE(recorder.checkpoints().size(), bound) << "appends took " << took;
  EXPECT_LT(recorder.checkpoints().size(), static_cast<size_t>(kAppends));
}

TEST_P(LogNodeFanOutTest, PausedSubscriptionResumesWhereItWas) {
  LogNodeOptions options = TestOptions();
  options.max_pending_events = 4;
  Reopen(options);
  Recorder recorder;
  auto sub = SubscribeAll(SubscribeOptions(ESDB_FROM_START), recorder.Callbacks());
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  sub->Pause();
  for (int i = 0; i < 30; ++i) AppendN(*node_, "s", 1);  // beyond the pending bound
  sub->Resume();
  ASSERT_TRUE(recorder.WaitForEventCount(30));
  std::vector<uint64_t> all;
  for (uint64_t p = 1; p <= 30; ++p) all.push_back(p);
  EXPECT_THAT(Positions(recorder.events()), ElementsAreArray(all));
  AppendN(*node_, "s", 1);
  ASSERT_TRUE(recorder.WaitForEventCount(31));
}

// A subscription that lags gets what came meanwhile in few calls, not one per append: the tail
// holds its events until its turn, and the turn hands them over together (up to read_batch).
TEST_P(LogNodeFanOutTest, EventsThatCameWhileACallbackRanArriveTogetherOnceInOrder) {
  Recorder recorder;
  auto sub = SubscriberInACallback(recorder, 16);
  ASSERT_NE(sub, nullptr);
  for (int i = 0; i < 40; ++i) AppendN(*node_, absl::StrCat("s-", i % 3), 1);
  recorder.Release();
  ASSERT_TRUE(recorder.WaitForEventCount(41));
  std::vector<uint64_t> all;
  for (uint64_t p = 1; p <= 41; ++p) all.push_back(p);
  EXPECT_THAT(Positions(recorder.events()), ElementsAreArray(all));
  size_t calls = 0;
  for (const Recorder::Call& call : recorder.calls()) {
    if (call.kind != Recorder::Call::kEvents) continue;
    ++calls;
    EXPECT_LE(call.events.size(), 16u);
  }
  // The blocked call, then 40 events in batches of at most 16.
  EXPECT_EQ(calls, 4u);
  EXPECT_EQ(recorder.overlaps(), 0);
  // And it is live again, one call per append while it keeps up.
  AppendN(*node_, "s", 1);
  ASSERT_TRUE(recorder.WaitForEventCount(42));
  EXPECT_EQ(recorder.events().back().position, 42u);
}

// And up to a few megabytes: large events that came while a callback ran arrive in calls of
// about 4 MiB, not in one of read_batch events (here 40 events of 256 KiB, 10 MB).
TEST_P(LogNodeFanOutTest, LargeEventsThatCameWhileACallbackRanArriveAFewMegabytesAtATime) {
  Recorder recorder;
  auto sub = SubscriberInACallback(recorder, 512);
  ASSERT_NE(sub, nullptr);
  const std::string data = absl::StrCat(R"({"pad":")", std::string(256 << 10, 'x'), R"("})");
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(node_->Append(absl::StrCat("big-", i % 3), ESDB_EXPECT_ANY, {Event("Big", data)})
                    .ok());
  }
  recorder.Release();
  ASSERT_TRUE(recorder.WaitForEventCount(41));
  size_t calls = 0;
  for (const Recorder::Call& call : recorder.calls()) {
    if (call.kind != Recorder::Call::kEvents) continue;
    ++calls;
    size_t bytes = 0;
    for (const RecordedEvent& e : call.events) bytes += e.ByteSize();
    EXPECT_LE(bytes, kMaxCallbackBytes + data.size() + 1024) << call.events.size() << " events";
  }
  EXPECT_GE(calls, 1u + 3u);  // the blocked call, then 10 MB in three or four
  EXPECT_EQ(recorder.overlaps(), 0);
  std::vector<uint64_t> all;
  for (uint64_t p = 1; p <= 41; ++p) all.push_back(p);
  EXPECT_THAT(Positions(recorder.events()), ElementsAreArray(all));
}

// A checkpoint notice never overtakes events the tail still holds for a subscription.
TEST_P(LogNodeFanOutTest, IdleNoticesComeAfterTheEventsHeldBeforeThem) {
  LogNodeOptions options = TestOptions();
  options.idle_checkpoint_delay = absl::Milliseconds(1);
  Reopen(options);
  Recorder recorder;
  esdb_subscribe_options o = SubscribeOptions(ESDB_FROM_START);
  auto sub = SubscribeAll(o, recorder.Callbacks());
  ASSERT_TRUE(recorder.WaitForCaughtUp());
  recorder.BlockEvents();
  AppendN(*node_, "s", 1);
  ASSERT_TRUE(recorder.WaitUntilBlocked());
  for (int i = 0; i < 20; ++i) {
    AppendN(*node_, "s", 1);
    absl::SleepFor(absl::Milliseconds(2));  // idle notices fall between the appends
  }
  recorder.Release();
  ASSERT_TRUE(recorder.WaitForEventCount(21));
  ASSERT_TRUE(recorder.WaitUntil([](const std::vector<Recorder::Call>& calls) {
    return !calls.empty() && calls.back().kind == Recorder::Call::kCheckpoint &&
           calls.back().position == 21;
  }));
  uint64_t delivered = 0;
  for (const Recorder::Call& call : recorder.calls()) {
    if (call.kind == Recorder::Call::kEvents) delivered = call.events.back().position;
    if (call.kind == Recorder::Call::kCheckpoint) {
      EXPECT_LE(call.position, delivered) << "a notice passed an event not yet delivered";
    }
  }
}

TEST_P(LogNodeFanOutTest, ShutdownDropsSubscriptionsWhateverTheirState) {
  LogNodeOptions options = TestOptions();
  options.max_pending_events = 2;
  Reopen(options);
  AppendN(*node_, "a", 50);
  Recorder live, paused, catching_up;
  auto live_sub = SubscribeAll(SubscribeOptions(ESDB_FROM_END), live.Callbacks());
  auto paused_sub = SubscribeAll(SubscribeOptions(ESDB_FROM_END), paused.Callbacks());
  ASSERT_TRUE(live.WaitForCaughtUp());
  ASSERT_TRUE(paused.WaitForCaughtUp());
  paused_sub->Pause();
  AppendN(*node_, "a", 5);
  catching_up.BlockEvents();
  auto catching_up_sub = SubscribeAll(SubscribeOptions(ESDB_FROM_START), catching_up.Callbacks());
  ASSERT_TRUE(catching_up.WaitUntilBlocked());
  catching_up.Release();
  node_->Shutdown();
  for (Recorder* r : {&live, &paused, &catching_up}) {
    ASSERT_FALSE(r->calls().empty());
    EXPECT_EQ(r->calls().back().kind, Recorder::Call::kDropped);
    EXPECT_EQ(r->in_callback(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, LogNodeFanOutTest,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite),
                         testing::BackendName);

}  // namespace
}  // namespace esdb::devnode
