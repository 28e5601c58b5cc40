#include "connector/registry.h"

#include <atomic>
#include <cstdio>

#include "devnode/log_node.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

// The node's function table with read_stream counted (and made to fail on demand). The other
// functions keep the node's own ctx, so the wrapper's state is reached through a static.
class CountingReads {
 public:
  explicit CountingReads(const esdb_node_api* inner) : table_(*inner) {
    inner_ = inner;
    reads_ = 0;
    fail_ = false;
    table_.read_stream = &ReadStream;
  }
  const esdb_node_api* api() const { return &table_; }
  int reads() const { return reads_; }
  // The revision the last read of `stream` started from.
  static uint64_t LastFrom(const std::string& stream) {
    absl::MutexLock lock(&mu_);
    return last_from_[stream];
  }
  void FailReads(bool fail) { fail_ = fail; }

 private:
  static esdb_node_status ReadStream(void* ctx, const char* stream, int32_t direction,
                                     uint64_t from, uint64_t max, esdb_read_event_fn on_event,
                                     void* user, char* err, size_t err_size) {
    ++reads_;
    {
      absl::MutexLock lock(&mu_);
      last_from_[stream] = from;
    }
    if (fail_) {
      std::snprintf(err, err_size, "reads fail in this test");
      return ESDB_NODE_UNAVAILABLE;
    }
    return inner_->read_stream(ctx, stream, direction, from, max, on_event, user, err, err_size);
  }
  static inline const esdb_node_api* inner_ = nullptr;
  static inline std::atomic<int> reads_ = 0;
  static inline std::atomic<bool> fail_ = false;
  static inline absl::Mutex mu_;
  static inline std::map<std::string, uint64_t> last_from_;
  esdb_node_api table_;
};

class RegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
};

TEST_F(RegistryTest, CommandsAreEventsInTheConnectorStream) {
  Registry r(&client_);
  ASSERT_TRUE(r.Load().ok());
  ASSERT_TRUE(r.Execute("c1", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(r.Execute("c1", cmd::Enable{}).ok());
  auto events = client_.ReadStreamEvents("$connectors/c1", Direction::kForwards, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].event_type, kConnectorCreated);
  EXPECT_EQ((*events)[1].event_type, kConnectorActivating);
  EXPECT_EQ(r.Get("c1")->state, ConnectorState::kActivating);
}

TEST_F(RegistryTest, RebuildsEveryConnectorAtStartUpFromTheIndex) {
  {
    Registry r(&client_);
    ASSERT_TRUE(r.Load().ok());
    ASSERT_TRUE(r.Execute("a", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
    ASSERT_TRUE(r.Execute("b", cmd::Create{{{"instanceTypeName", "file-sink"}}}).ok());
    ASSERT_TRUE(r.Execute("b", cmd::Enable{}).ok());
    ASSERT_TRUE(r.Execute("a", cmd::Delete{}).ok());
  }
  // An index entry whose create never landed (a crash between the two appends) is skipped.
  EventData orphan{.event_type = "ConnectorIndexed", .data = R"({"id":"ghost"})"};
  ASSERT_TRUE(client_.Append("$connectors", ESDB_EXPECT_ANY, {&orphan, 1}).ok());

  Registry r(&client_);
  ASSERT_TRUE(r.Load().ok());
  auto all = r.List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, "b");
  EXPECT_EQ(all[0].state, ConnectorState::kActivating);
  EXPECT_EQ(all[0].settings.at("instanceTypeName"), "file-sink");
  EXPECT_FALSE(r.Get("a").has_value());
  EXPECT_FALSE(r.Get("ghost").has_value());

  // Deleted connectors are kept, folded up to their delete; the orphan id has no events.
  auto everything = r.ListAll();
  ASSERT_EQ(everything.size(), 3u);
  EXPECT_EQ(everything[0].id, "a");
  EXPECT_FALSE(everything[0].exists);
  EXPECT_EQ(everything[0].revision, 1);
  EXPECT_EQ(everything[0].settings.at("instanceTypeName"), "null-sink");
  EXPECT_EQ(everything[1].id, "b");
  EXPECT_TRUE(everything[1].exists);
  EXPECT_EQ(everything[2].id, "ghost");
  EXPECT_EQ(everything[2].revision, -1);
}

TEST_F(RegistryTest, ConcurrentCommandsNeverBothWin) {
  Registry host1(&client_), host2(&client_);
  ASSERT_TRUE(host1.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  // host2 decides "delete" on STOPPED; before it appends, host1 enables the connector.
  host2.SetBeforeAppendForTesting([&] {
    host2.SetBeforeAppendForTesting(nullptr);
    ASSERT_TRUE(host1.Execute("c", cmd::Enable{}).ok());
  });
  auto lost = host2.Execute("c", cmd::Delete{});
  ASSERT_TRUE(absl::IsAborted(lost.status())) << lost.status();
  // The loser re-read the stream: a retry is decided on the fresh state and refused properly.
  EXPECT_EQ(host2.Get("c")->state, ConnectorState::kActivating);
  EXPECT_TRUE(absl::IsFailedPrecondition(host2.Execute("c", cmd::Delete{}).status()));
  auto events = client_.ReadStreamEvents("$connectors/c", Direction::kForwards, 0, 100);
  ASSERT_EQ(events->size(), 2u);  // created, activating: the delete never landed
}

TEST_F(RegistryTest, CommandsDecideOnTheStoreNotOnAStaleCache) {
  Registry host1(&client_), host2(&client_);
  ASSERT_TRUE(host1.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(host2.Load().ok());
  ASSERT_TRUE(host1.Execute("c", cmd::Enable{}).ok());  // host2's cache still says STOPPED
  EXPECT_TRUE(absl::IsFailedPrecondition(host2.Execute("c", cmd::Delete{}).status()));
  EXPECT_TRUE(host2.Execute("c", cmd::Disable{}).ok());
}

TEST_F(RegistryTest, FollowsOtherHostsChanges) {
  Registry host1(&client_), host2(&client_);
  absl::Mutex mu;
  std::vector<std::string> changed;
  host2.OnChange([&](const std::string& id) {
    absl::MutexLock lock(&mu);
    changed.push_back(id);
  });
  ASSERT_TRUE(host2.Load().ok());
  ASSERT_TRUE(host1.Execute("a", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(host1.Execute("a", cmd::Enable{}).ok());
  // Pushed by the subscription: host2 reads nothing itself. The state may be
  // visible a moment before the listener runs, so wait for both.
  auto notified_and_activating = [&] {
    auto a = host2.Get("a");
    return std::find(changed.begin(), changed.end(), "a") != changed.end() && a &&
           a->state == ConnectorState::kActivating;
  };
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&notified_and_activating), absl::Seconds(10)))
      << "host2 saw: " << (host2.Get("a") ? "a" : "nothing") << ", listener calls: " << changed.size();
}

TEST_F(RegistryTest, SyncWithoutLoadReadsWhatIsNew) {
  Registry host1(&client_), host2(&client_);
  ASSERT_TRUE(host1.Execute("a", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(host1.Execute("a", cmd::Enable{}).ok());
  EXPECT_FALSE(host2.Get("a").has_value());
  std::vector<std::string> changed;
  host2.OnChange([&](const std::string& id) { changed.push_back(id); });
  ASSERT_TRUE(host2.Sync().ok());
  ASSERT_TRUE(host2.Get("a").has_value());
  EXPECT_EQ(host2.Get("a")->state, ConnectorState::kActivating);
  EXPECT_EQ(changed, std::vector<std::string>{"a"});
  changed.clear();
  ASSERT_TRUE(host2.Sync().ok());
  EXPECT_TRUE(changed.empty());  // nothing new: no change reported
}

TEST_F(RegistryTest, CreateSeesAConnectorAnotherHostCreated) {
  Registry host1(&client_), host2(&client_);
  ASSERT_TRUE(host1.Load().ok());
  ASSERT_TRUE(host2.Load().ok());
  ASSERT_TRUE(host1.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(
      host2.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).status()));
}

TEST_F(RegistryTest, NotifiesListenerOnChange) {
  Registry r(&client_);
  std::vector<std::string> seen;
  r.OnChange([&](const std::string& id) { seen.push_back(id); });
  ASSERT_TRUE(r.Execute("x", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  EXPECT_EQ(seen, std::vector<std::string>{"x"});
}

TEST_F(RegistryTest, ListAndSyncReadNothingWhileFollowing) {
  Registry writer(&client_);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(writer.Execute("c" + std::to_string(i), cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  }
  CountingReads counting(node_->api());
  NodeClient client(counting.api());
  Registry r(&client);
  ASSERT_TRUE(r.Load().ok());
  int after_load = counting.reads();
  EXPECT_EQ(r.List().size(), 50u);
  ASSERT_TRUE(r.Sync().ok());
  EXPECT_FALSE(r.LastCheckpoint("c1").has_value());
  // Checkpoints arrive through the subscription too.
  EventData cp{.event_type = kCheckpointEvent,
               .data = R"({"position":{"commit":7,"prepare":7},"epoch":0,"host":"h"})"};
  ASSERT_TRUE(client_.Append("$connectors/c1/checkpoints", ESDB_EXPECT_ANY, {&cp, 1}).ok());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!r.LastCheckpoint("c1") && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(r.LastCheckpoint("c1").has_value());
  EXPECT_EQ(r.LastCheckpoint("c1")->position.commit, 7u);
  EXPECT_EQ(counting.reads(), after_load);
}

TEST_F(RegistryTest, CommandsReadOnlyWhatIsNewInTheirStream) {
  CountingReads counting(node_->api());
  NodeClient client(counting.api());
  Registry r(&client);
  ASSERT_TRUE(r.Load().ok());
  ASSERT_TRUE(r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(r.Execute("c", cmd::Enable{}).ok());
    ASSERT_TRUE(r.Execute("c", cmd::Disable{}).ok());
    ASSERT_TRUE(r.Execute("c", cmd::MarkStopped{}).ok());
  }
  EXPECT_GE(CountingReads::LastFrom("$connectors/c"), 60u);  // after the events it knew
  // The fold is the same as a fresh read of the whole stream.
  Registry fresh(&client_);
  ASSERT_TRUE(fresh.Load().ok());
  EXPECT_EQ(fresh.Get("c")->revision, r.Get("c")->revision);
  EXPECT_EQ(r.Get("c")->state, ConnectorState::kStopped);
}

TEST_F(RegistryTest, AnAppendThatLandedIsNotReportedFailedWhenTheReadBackFails) {
  CountingReads counting(node_->api());
  NodeClient client(counting.api());
  Registry r(&client);
  ASSERT_TRUE(r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  r.SetBeforeAppendForTesting([&] { counting.FailReads(true); });
  auto enabled = r.Execute("c", cmd::Enable{});
  counting.FailReads(false);
  ASSERT_TRUE(enabled.ok()) << enabled.status();
  EXPECT_EQ(enabled->state, ConnectorState::kActivating);
  EXPECT_EQ(enabled->revision, 1);
  EXPECT_EQ(r.Get("c")->state, ConnectorState::kActivating);
}

TEST_F(RegistryTest, ACreateAfterADeleteStartsInNewStreams) {
  Registry r(&client_);
  ASSERT_TRUE(r.Load().ok());
  ASSERT_TRUE(r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(r.Execute("c", cmd::Delete{}).ok());
  auto again = r.Execute("c", cmd::Create{{{"instanceTypeName", "file-sink"}}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->generation, 1);
  EXPECT_EQ(again->revision, 0);
  EXPECT_EQ(again->epoch, 0);
  auto events = client_.ReadStreamEvents("$connectors/c@1", Direction::kForwards, 0, 100);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event_type, kConnectorCreated);
  Registry restarted(&client_);
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.Get("c")->settings.at("instanceTypeName"), "file-sink");
  EXPECT_EQ(restarted.Get("c")->generation, 1);
}

// A connector stream deleted behind the library's back, softly or for ever (tombstone): the
// connector shows FAILED with the reason, refuses everything but delete, and can be deleted and
// created again under the same id.
class DamagedConnectorTest : public RegistryTest, public ::testing::WithParamInterface<bool> {};

TEST_P(DamagedConnectorTest, ShowsWhyAndCanBeDeletedAndCreatedAgain) {
  const bool tombstone = GetParam();
  Registry r(&client_);
  ASSERT_TRUE(r.Load().ok());
  ASSERT_TRUE(r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(r.Execute("c", cmd::Enable{}).ok());
  auto gone = tombstone ? node_->TombstoneStream("$connectors/c", ESDB_EXPECT_ANY)
                        : node_->DeleteStream("$connectors/c", ESDB_EXPECT_ANY);
  ASSERT_TRUE(gone.ok()) << gone.status();

  auto seen = r.Refresh("c");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_TRUE(seen->exists);
  EXPECT_TRUE(seen->damaged);
  EXPECT_EQ(seen->state, ConnectorState::kFailed);
  EXPECT_NE(seen->error.find("$connectors/c was deleted outside"), std::string::npos) << seen->error;
  ASSERT_EQ(r.List().size(), 1u);
  EXPECT_EQ(r.List()[0].state, ConnectorState::kFailed);
  auto disable = r.Execute("c", cmd::Disable{});
  EXPECT_TRUE(absl::IsFailedPrecondition(disable.status())) << disable.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).status()));

  auto deleted = r.Execute("c", cmd::Delete{});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_FALSE(r.Get("c").has_value());
  EXPECT_TRUE(r.List().empty());
  auto again = r.Execute("c", cmd::Create{{{"instanceTypeName", "file-sink"}}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state, ConnectorState::kStopped);
  ASSERT_TRUE(r.Execute("c", cmd::Enable{}).ok());

  Registry restarted(&client_);
  ASSERT_TRUE(restarted.Load().ok());
  ASSERT_TRUE(restarted.Get("c").has_value());
  EXPECT_EQ(restarted.Get("c")->settings.at("instanceTypeName"), "file-sink");
  EXPECT_EQ(restarted.Get("c")->state, ConnectorState::kActivating);
}

INSTANTIATE_TEST_SUITE_P(SoftAndHard, DamagedConnectorTest, ::testing::Bool());

// Events forged into a connector stream by someone with write access (unknown types, data that
// is not JSON, fields of the wrong type) never leave the connector unmanageable.
TEST_F(RegistryTest, ForgedEventsLeaveTheConnectorManageable) {
  Registry r(&client_);
  ASSERT_TRUE(r.Load().ok());
  ASSERT_TRUE(r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(r.Execute("c", cmd::Enable{}).ok());
  using devnode::AppendEvent;
  ASSERT_TRUE(node_
                  ->Append("$connectors/c", ESDB_EXPECT_ANY,
                           {AppendEvent{"", "SomethingElse", "application/json", "{}"},
                            AppendEvent{"", "ConnectorFailed", "application/octet-stream", "\x01"},
                            AppendEvent{"", "ConnectorReconfigured", "application/json",
                                        R"({"settings": [1, 2], "secrets": "x"})"},
                            AppendEvent{"", "ConnectorRunning", "application/json",
                                        R"({"host": {"deep": []}})"}})
                  .ok());
  auto seen = r.Refresh("c");
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_TRUE(seen->exists);
  EXPECT_EQ(seen->state, ConnectorState::kRunning);
  ASSERT_TRUE(r.Execute("c", cmd::Disable{}).ok());
  ASSERT_TRUE(r.Execute("c", cmd::MarkStopped{}).ok());  // what the supervisor reports
  ASSERT_TRUE(r.Execute("c", cmd::Reconfigure{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(r.Execute("c", cmd::Delete{}).ok());
  auto again = r.Execute("c", cmd::Create{{{"instanceTypeName", "file-sink"}}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->settings.at("instanceTypeName"), "file-sink");
}

TEST_F(RegistryTest, ACreateOverATombstonedStreamMovesOn) {
  // Tombstoned before the library ever wrote it (or after a crash between index and stream).
  ASSERT_TRUE(node_->TombstoneStream("$connectors/c", ESDB_EXPECT_ANY).ok());
  Registry r(&client_);
  ASSERT_TRUE(r.Load().ok());
  auto c = r.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->generation, 1);
  Registry restarted(&client_);
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_TRUE(restarted.Get("c").has_value());
}

TEST_F(RegistryTest, TwoHostsCreatingAgainAtOnceNeverBothWin) {
  Registry host1(&client_), host2(&client_);
  ASSERT_TRUE(host1.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  ASSERT_TRUE(host1.Execute("c", cmd::Delete{}).ok());
  host2.SetBeforeAppendForTesting([&] {
    host2.SetBeforeAppendForTesting(nullptr);
    ASSERT_TRUE(host1.Execute("c", cmd::Create{{{"instanceTypeName", "file-sink"}}}).ok());
  });
  auto lost = host2.Execute("c", cmd::Create{{{"instanceTypeName", "null-sink"}}});
  EXPECT_FALSE(lost.ok());
  Registry fresh(&client_);
  ASSERT_TRUE(fresh.Load().ok());
  EXPECT_EQ(fresh.Get("c")->settings.at("instanceTypeName"), "file-sink");
}

}  // namespace
}  // namespace esdb
