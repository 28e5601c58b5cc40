#include "activation/assignment.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "esdb/node.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

std::vector<HostView> Cluster() {
  return {{"leader-a", ESDB_ROLE_LEADER, true},
          {"follower-b", ESDB_ROLE_FOLLOWER, true},
          {"follower-c", ESDB_ROLE_FOLLOWER, true},
          {"replica-d", ESDB_ROLE_READ_ONLY_REPLICA, true}};
}

TEST(AssignmentTest, AffinityPicksTheRightRole) {
  auto hosts = Cluster();
  for (int i = 0; i < 50; ++i) {
    std::string id = absl::StrCat("c", i);
    EXPECT_EQ(AssignHost(id, Affinity::kLeader, hosts), "leader-a");
    auto f = AssignHost(id, Affinity::kFollower, hosts);
    EXPECT_TRUE(f == "follower-b" || f == "follower-c");
    EXPECT_EQ(AssignHost(id, Affinity::kReadOnlyReplica, hosts), "replica-d");
  }
}

TEST(AssignmentTest, FallsBackTierByTier) {
  auto hosts = Cluster();
  hosts[3].live = false;  // no replica: followers take its connectors
  auto r = AssignHost("x", Affinity::kReadOnlyReplica, hosts);
  EXPECT_TRUE(r == "follower-b" || r == "follower-c");
  hosts[1].live = hosts[2].live = false;  // no followers either: the leader
  EXPECT_EQ(AssignHost("x", Affinity::kReadOnlyReplica, hosts), "leader-a");
  EXPECT_EQ(AssignHost("x", Affinity::kFollower, hosts), "leader-a");
  hosts[0].live = false;
  EXPECT_EQ(AssignHost("x", Affinity::kLeader, hosts), std::nullopt);
  hosts[0] = {"leader-a", ESDB_ROLE_OTHER, true};  // catching up: not eligible
  EXPECT_EQ(AssignHost("x", Affinity::kFollower, hosts), std::nullopt);
}

TEST(AssignmentTest, SpreadsAndMovesFewConnectors) {
  std::vector<HostView> hosts;
  for (int h = 0; h < 4; ++h) hosts.push_back({absl::StrCat("host-", h), ESDB_ROLE_FOLLOWER, true});
  std::map<std::string, std::string> before;
  std::map<std::string, int> load;
  for (int i = 0; i < 1000; ++i) {
    std::string id = absl::StrCat("connector-", i);
    before[id] = *AssignHost(id, Affinity::kFollower, hosts);
    load[before[id]]++;
  }
  for (auto& [h, n] : load) EXPECT_GT(n, 150) << h;  // roughly 250 each
  hosts[2].live = false;
  int moved = 0;
  for (auto& [id, owner] : before) {
    std::string now = *AssignHost(id, Affinity::kFollower, hosts);
    if (owner != "host-2") {
      EXPECT_EQ(now, owner) << "only the lost host's connectors may move";
    } else {
      ++moved;
      EXPECT_NE(now, "host-2");
    }
  }
  EXPECT_EQ(moved, load["host-2"]);
}

TEST(AssignmentTest, ScoresAreStable) {
  // Fixed values: a change here would move connectors between hosts across versions.
  EXPECT_EQ(RendezvousScore("a", "b"), RendezvousScore("a", "b"));
  EXPECT_NE(RendezvousScore("a", "b"), RendezvousScore("b", "a"));
  EXPECT_NE(RendezvousScore("ab", "c"), RendezvousScore("a", "bc"));
}

}  // namespace
}  // namespace esdb
