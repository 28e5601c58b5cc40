#include "devnode/cluster_view.h"

#include <filesystem>
#include <fstream>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

TEST(ClusterViewTest, Parses) {
  auto m = ParseClusterView(R"({"members":[{"id":"m1","role":"leader","httpEndpoint":"a:1"},
                                            {"id":"m2","role":"readOnlyReplica","alive":false}]})");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].role, ESDB_ROLE_LEADER);
  EXPECT_TRUE((*m)[0].alive);
  EXPECT_EQ((*m)[0].http_endpoint, "a:1");
  EXPECT_EQ((*m)[1].role, ESDB_ROLE_READ_ONLY_REPLICA);
  EXPECT_FALSE((*m)[1].alive);
}

TEST(ClusterViewTest, RejectsBadViews) {
  EXPECT_FALSE(ParseClusterView("[]").ok());
  EXPECT_FALSE(ParseClusterView(R"({"members":[{"role":"leader"}]})").ok());
  auto bad_role = ParseClusterView(R"({"members":[{"id":"m1","role":"king"}]})");
  ASSERT_FALSE(bad_role.ok());
  EXPECT_NE(bad_role.status().message().find("king"), absl::string_view::npos);
  EXPECT_FALSE(ParseClusterView(R"({"members":[{"id":"m1","alive":"yes"}]})").ok());
}

TEST(ClusterViewTest, EditsReachTheNodeAndItsWatchers) {
  auto path = std::filesystem::temp_directory_path() / ("esdb-view-" + std::to_string(getpid()));
  std::ofstream(path) << R"({"members":[{"id":"m1","role":"leader"}]})";
  auto node = LogNode::InMemory();
  auto watch = ClusterViewFile::Watch(path.string(), node.get());
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_EQ(node->Members()[0].role, ESDB_ROLE_LEADER);

  absl::Notification changed;
  const esdb_node_api* api = node->api();
  esdb_watch* w = nullptr;
  char err[128];
  ASSERT_EQ(api->watch_members(
                api->ctx,
                [](void* u) {
                  auto* n = static_cast<absl::Notification*>(u);
                  if (!n->HasBeenNotified()) n->Notify();
                },
                &changed, &w, err, sizeof err),
            ESDB_NODE_OK);
  std::ofstream(path) << R"({"members":[{"id":"m1","role":"follower"},{"id":"m2","role":"leader"}]})";
  ASSERT_TRUE(changed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  api->unwatch_members(api->ctx, w);
  EXPECT_EQ(node->Members().size(), 2u);
  EXPECT_EQ(node->Members()[1].role, ESDB_ROLE_LEADER);
  watch->reset();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace esdb::devnode
