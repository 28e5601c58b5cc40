// The side-car's node ABI against the dev node's gRPC server over a real channel: every function
// of esdb_node_api, the subscription's order and back-pressure, and what happens while the node
// is down (prompt UNAVAILABLE, on_dropped) and after it is back (a resubscription continues
// without a gap).
#include "sidecar/node_api.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "devnode/grpc_server.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"
#include "node/node_client.h"
#include "sidecar/connection_string.h"
#include "sidecar/grpc_subscription.h"

namespace esdb::sidecar {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

// Collects one subscription's callbacks.
class Collector : public SubscriptionHandler {
 public:
  void OnEvents(std::vector<Record> events) override {
    absl::MutexLock lock(&mu_);
    for (Record& r : events) records_.push_back(std::move(r));
    ++batches_;
  }
  void OnCheckpoint(Position p) override {
    absl::MutexLock lock(&mu_);
    checkpoints_.push_back(p);
  }
  void OnCaughtUp(Position) override {
    absl::MutexLock lock(&mu_);
    caught_up_ = true;
  }
  void OnDropped(absl::Status why) override {
    absl::MutexLock lock(&mu_);
    dropped_ = why;
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
  std::optional<absl::Status> WaitForDropped() {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return dropped_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
    return dropped_;
  }
  std::vector<Record> records() {
    absl::MutexLock lock(&mu_);
    return records_;
  }
  std::vector<Position> checkpoints() {
    absl::MutexLock lock(&mu_);
    return checkpoints_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
  std::vector<Position> checkpoints_ ABSL_GUARDED_BY(mu_);
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> dropped_ ABSL_GUARDED_BY(mu_);
};

std::vector<EventData> Events(const std::string& prefix, int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) {
    EventData e;
    e.event_type = "Tested";
    e.data = absl::StrCat(R"({"")", prefix, R"(":)", i, "}");
    e.metadata = R"({"m":1})";
    out.push_back(e);
  }
  return out;
}

class SidecarNodeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = devnode::LogNode::InMemory();
    StartServer(0);
    auto settings = ParseConnectionString(
        absl::StrCat("kurrentdb://127.0.0.1:", port_, "?tls=false&defaultDeadline=1500"));
    ASSERT_TRUE(settings.ok()) << settings.status();
    auto connection = NodeConnection::Create(*settings);
    ASSERT_TRUE(connection.ok()) << connection.status();
    connection_ = *std::move(connection);
    grpc_node_ = std::make_unique<GrpcNode>(connection_.get(), "sidecar-1");
    NodeApiOptions options;
    options.members_poll = absl::Milliseconds(20);
    api_ = std::make_unique<SidecarNodeApi>(grpc_node_.get(), options);
    client_ = std::make_unique<NodeClient>(api_->api());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    node_->Shutdown();
  }

  void StartServer(uint16_t port) {
    devnode::GrpcServerOptions options;
    options.port = port;
    auto server = devnode::GrpcServer::Start(node_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    port_ = server_->port();
  }

  std::unique_ptr<devnode::LogNode> node_;
  std::unique_ptr<devnode::GrpcServer> server_;
  uint16_t port_ = 0;
  std::unique_ptr<NodeConnection> connection_;
  std::unique_ptr<GrpcNode> grpc_node_;
  std::unique_ptr<SidecarNodeApi> api_;
  std::unique_ptr<NodeClient> client_;
};

TEST_F(SidecarNodeApiTest, AppendAndReadStreams) {
  auto appended = client_->Append("s", ESDB_EXPECT_NO_STREAM, Events("a", 3));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->revision, 2u);
  EXPECT_EQ(appended->position.commit, node_->LastPosition());

  auto forwards = client_->ReadStreamEvents("s", Direction::kForwards, 0, 100);
  ASSERT_TRUE(forwards.ok()) << forwards.status();
  auto direct = node_->ReadStream("s", devnode::ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(direct.ok());
  ASSERT_EQ(forwards->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Record& r = (*forwards)[i];
    const devnode::RecordedEvent& d = (*direct)[i];
    EXPECT_EQ(r.stream, "s");
    EXPECT_EQ(r.revision, i);
    EXPECT_EQ(r.position.commit, d.position);
    EXPECT_EQ(r.event_id, d.event_id);
    EXPECT_EQ(r.event_type, "Tested");
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.data, d.data);
    EXPECT_EQ(r.metadata, R"({"m":1})");
    EXPECT_EQ(r.created_unix_us, d.created_unix_us);  // ticks convert back exactly
  }
  auto last = client_->ReadStreamEvents("s", Direction::kBackwards, ESDB_REVISION_END, 1);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ(last->front().revision, 2u);
  auto middle = client_->ReadStreamEvents("s", Direction::kForwards, 1, 1);
  ASSERT_TRUE(middle.ok());
  ASSERT_EQ(middle->size(), 1u);
  EXPECT_EQ(middle->front().revision, 1u);

  EXPECT_TRUE(
      absl::IsNotFound(client_->ReadStreamEvents("nope", Direction::kForwards, 0, 10).status()));
  // A conflict is WRONG_EXPECTED_VERSION (Aborted) and writes nothing.
  const uint64_t before = node_->LastPosition();
  EXPECT_TRUE(absl::IsAborted(client_->Append("s", 7, Events("b", 1)).status()));
  EXPECT_EQ(node_->LastPosition(), before);
  auto position = client_->LastPosition();
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->commit, before);
}

TEST_F(SidecarNodeApiTest, StreamMetadataGoesThroughTheMetadataStream) {
  auto none = client_->GetStreamMetadata("s");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, "{}");
  ASSERT_TRUE(client_->SetStreamMetadata("s", R"({"$maxCount":2})").ok());
  auto stored = node_->GetStreamMetadata("s");
  ASSERT_TRUE(stored.ok());
  EXPECT_NE(stored->find("\"$maxCount\":2"), std::string::npos) << *stored;
  auto read = client_->GetStreamMetadata("s");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, *stored);
  // And the node honours it: stream reads see the newest two events only.
  ASSERT_TRUE(client_->Append("s", ESDB_EXPECT_ANY, Events("c", 5)).ok());
  auto events = client_->ReadStreamEvents("s", Direction::kForwards, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
}

TEST_F(SidecarNodeApiTest, FilteredSubscriptionDeliversInOrderWithCheckpoints) {
  ASSERT_TRUE(client_->Append("other", ESDB_EXPECT_ANY, Events("o", 30)).ok());
  ASSERT_TRUE(client_->Append("a-1", ESDB_EXPECT_ANY, Events("a", 5)).ok());
  Collector collector;
  SubscribeOptions o;
  o.filter.enabled = true;
  o.filter.scope = FilterScope::kStream;
  o.filter.prefixes = {"a-"};
  o.checkpoint_interval = 8;
  auto sub = client_->SubscribeAll(o, &collector);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(collector.WaitForCaughtUp());
  ASSERT_TRUE(collector.WaitForRecords(5));
  ASSERT_TRUE(client_->Append("a-2", ESDB_EXPECT_ANY, Events("a", 3)).ok());
  ASSERT_TRUE(client_->Append("other", ESDB_EXPECT_ANY, Events("o", 3)).ok());
  ASSERT_TRUE(collector.WaitForRecords(8));
  sub->reset();
  auto records = collector.records();
  ASSERT_EQ(records.size(), 8u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].stream.substr(0, 2), "a-");
    if (i > 0) EXPECT_LT(records[i - 1].position, records[i].position);
  }
  // 30 non-matching events were scanned first: the server said how far it got.
  EXPECT_FALSE(collector.checkpoints().empty());

  // From a position: strictly after it.
  Collector after;
  SubscribeOptions from;
  from.from = SubscribeOptions::From::kPosition;
  from.position = records[5].position;
  from.filter = o.filter;
  auto sub2 = client_->SubscribeAll(from, &after);
  ASSERT_TRUE(sub2.ok());
  ASSERT_TRUE(after.WaitForRecords(2));
  ASSERT_TRUE(after.WaitForCaughtUp());
  EXPECT_EQ(after.records().front().position, records[6].position);
  EXPECT_EQ(after.records().size(), 2u);
}

// Messages wait for the callbacks up to a count and up to the bytes of their events: large events
// stop the reading long before the count would (a node may send messages of up to 64 MiB).
TEST_F(SidecarNodeApiTest, ASubscriptionStopsReadingAtTheBytesItHoldsForItsCallbacks) {
  const std::string pad(16 << 10, 'x');
  std::vector<EventData> big;
  for (int i = 0; i < 300; ++i) {
    EventData e;
    e.event_type = "Big";
    e.data = absl::StrCat(R"({"n":)", i, R"(,"pad":")", pad, R"("})");
    big.push_back(e);
    if (big.size() == 50) {
      ASSERT_TRUE(client_->Append("big", ESDB_EXPECT_ANY, big).ok());
      big.clear();
    }
  }
  struct Held {
    absl::Notification entered, release;
    absl::Mutex mu;
    int events ABSL_GUARDED_BY(mu) = 0;
  } held;
  esdb_subscription_callbacks cb{};
  cb.struct_size = sizeof cb;
  cb.user = &held;
  cb.on_events = [](void* user, const esdb_recorded_event* const*, size_t count) {
    auto* h = static_cast<Held*>(user);
    if (!h->entered.HasBeenNotified()) h->entered.Notify();
    h->release.WaitForNotification();
    absl::MutexLock lock(&h->mu);
    h->events += static_cast<int>(count);
  };
  esdb_subscribe_options o{};
  o.struct_size = sizeof o;
  o.from = ESDB_FROM_START;
  CallOutcome failure;
  constexpr size_t kBytes = 256 << 10;
  auto sub = GrpcSubscription::Start(connection_.get(), o, cb, &failure, kMaxQueued, kBytes);
  ASSERT_TRUE(sub.ok()) << sub.status();
  // Whatever fails below, the callback returns before the subscription is destroyed.
  absl::Cleanup release = [&] {
    if (!held.release.HasBeenNotified()) held.release.Notify();
  };
  ASSERT_TRUE(held.entered.WaitForNotificationWithTimeout(kWait));
  // 300 messages are far from the 4096 it may count: only the bytes stop the reading, which
  // otherwise waits with a read outstanding for the next event.
  absl::Time deadline = absl::Now() + kWait;
  while ((*sub)->Reading() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_FALSE((*sub)->Reading()) << (*sub)->QueuedBytes() << " bytes queued";
  EXPECT_GE((*sub)->QueuedBytes(), kBytes);
  EXPECT_LT((*sub)->QueuedBytes(), kBytes + (32 << 10)) << "one message past the bound at most";
  held.release.Notify();
  absl::MutexLock lock(&held.mu);
  held.mu.AwaitWithTimeout(absl::Condition(
                               +[](int* events) { return *events == 300; }, &held.events),
                           kWait);
  EXPECT_EQ(held.events, 300);
}

// The dev node allows 100 calls open at once on one connection, as KurrentDB does by default.
// More subscriptions than that all start and deliver, and short calls are not held up behind
// them: long calls go on connections of their own.
TEST_F(SidecarNodeApiTest, MoreSubscriptionsThanOneConnectionCarriesAllRun) {
  ASSERT_TRUE(client_->Append("s", ESDB_EXPECT_ANY, Events("x", 1)).ok());
  constexpr int kSubscriptions = 160;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int i = 0; i < kSubscriptions; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    auto sub = client_->SubscribeAll(SubscribeOptions{}, collectors.back().get());
    ASSERT_TRUE(sub.ok()) << "subscription " << i << ": " << sub.status();
    subs.push_back(*std::move(sub));
  }
  ASSERT_TRUE(client_->Append("s", ESDB_EXPECT_ANY, Events("y", 1)).ok());
  for (int i = 0; i < kSubscriptions; ++i) {
    ASSERT_TRUE(collectors[i]->WaitForRecords(2)) << "subscription " << i;
  }
  subs.clear();
}

TEST_F(SidecarNodeApiTest, NodeDownFailsFastDropsAndResumesWithoutGap) {
  ASSERT_TRUE(client_->Append("s", ESDB_EXPECT_ANY, Events("a", 4)).ok());
  Collector collector;
  auto sub = client_->SubscribeAll(SubscribeOptions{}, &collector);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(collector.WaitForRecords(4));

  server_->Stop();
  auto dropped = collector.WaitForDropped();
  ASSERT_TRUE(dropped.has_value()) << "no on_dropped after the node went away";
  EXPECT_TRUE(absl::IsUnavailable(*dropped)) << *dropped;

  // While it is down, calls fail with UNAVAILABLE within the default deadline (1.5 s).
  const absl::Time t0 = absl::Now();
  auto append = client_->Append("s", ESDB_EXPECT_ANY, Events("x", 1));
  EXPECT_TRUE(absl::IsUnavailable(append.status())) << append.status();
  EXPECT_TRUE(
      absl::IsUnavailable(client_->ReadStreamEvents("s", Direction::kForwards, 0, 9).status()));
  Collector refused;
  EXPECT_TRUE(absl::IsUnavailable(client_->SubscribeAll(SubscribeOptions{}, &refused).status()));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(6));

  // Written while the side-car cannot see it.
  auto more = Events("b", 3);
  std::vector<devnode::AppendEvent> direct;
  for (const EventData& e : more) direct.push_back({"", e.event_type, e.content_type, e.data, ""});
  ASSERT_TRUE(node_->Append("s", ESDB_EXPECT_ANY, direct).ok());

  StartServer(port_);  // the same address: the channel reconnects by itself
  Collector resumed;
  SubscribeOptions from;
  from.from = SubscribeOptions::From::kPosition;
  from.position = collector.records().back().position;
  // Calls fail fast while a channel backs off; it reconnects by itself. A subscription goes on
  // a channel of its own (ForLongCall).
  for (auto target : {connection_->Current(), connection_->ForLongCall()}) {
    ASSERT_TRUE(target.ok());
    ASSERT_TRUE(target->channel->WaitForConnected(std::chrono::system_clock::now() +
                                                  std::chrono::seconds(20)));
  }
  auto sub2 = client_->SubscribeAll(from, &resumed);
  ASSERT_TRUE(sub2.ok()) << sub2.status();
  ASSERT_TRUE(resumed.WaitForRecords(3));
  auto all = collector.records();
  for (const Record& r : resumed.records()) all.push_back(r);
  ASSERT_EQ(all.size(), 7u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].revision, i);
  sub->reset();
}

TEST_F(SidecarNodeApiTest, MembersComeFromGossipWithSelfRenamed) {
  auto members = client_->GetMembers();
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(members->self_id, "sidecar-1");
  ASSERT_EQ(members->members.size(), 1u);
  EXPECT_EQ(members->members[0].id, "sidecar-1");
  EXPECT_EQ(members->members[0].role, ESDB_ROLE_LEADER);
  EXPECT_TRUE(members->members[0].alive);

  absl::Notification changed;
  auto watch = client_->WatchMembers([&] {
    if (!changed.HasBeenNotified()) changed.Notify();
  });
  ASSERT_TRUE(watch.ok()) << watch.status();
  // The watch's first read is its baseline, which a change made before it would be part of:
  // change the view back and forth until the watch reports a change.
  bool notified = false;
  for (int i = 0; i < 40 && !notified; ++i) {
    const int32_t role = i % 2 == 0 ? ESDB_ROLE_FOLLOWER : ESDB_ROLE_LEADER;
    node_->SetMembers({{"devnode", role, true, ""}});
    notified = changed.WaitForNotificationWithTimeout(absl::Milliseconds(500));
  }
  ASSERT_TRUE(notified);
  node_->SetMembers({{"devnode", ESDB_ROLE_FOLLOWER, true, ""}});
  auto after = client_->GetMembers();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->members[0].role, ESDB_ROLE_FOLLOWER);
  watch->reset();
}

TEST_F(SidecarNodeApiTest, DiscoveryFindsTheNodeThroughGossip) {
  auto settings =
      ParseConnectionString(absl::StrCat("kurrentdb+discover://localhost:", port_, "?tls=false"));
  ASSERT_TRUE(settings.ok());
  auto connection = NodeConnection::Create(*settings);
  ASSERT_TRUE(connection.ok());
  auto target = (*connection)->Current();
  ASSERT_TRUE(target.ok()) << target.status();
  // Gossip advertises the node at 127.0.0.1, not the seed's name.
  EXPECT_EQ(target->endpoint.ToString(), absl::StrCat("127.0.0.1:", port_));
  GrpcNode node(connection->get(), "x");
  esdb_position last;
  EXPECT_EQ(node.LastPosition(&last).status, ESDB_NODE_OK);
}

}  // namespace
}  // namespace esdb::sidecar
