#include "connector/registry.h"

#include "devnode/log_node.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

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

TEST_F(RegistryTest, SyncPicksUpOtherHostsChanges) {
  Registry host1(&client_), host2(&client_);
  ASSERT_TRUE(host2.Load().ok());
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

}  // namespace
}  // namespace esdb
