// Three side-cars on one dev node: each connector runs on exactly one host whose role matches its
// affinity, every host agrees on which, and a leader change moves the leader-affinity connectors.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crash_check.h"
#include "multinode_test.h"

namespace esdb::multinode {
namespace {

constexpr const char* kAffinities[] = {"leader", "follower", "readOnlyReplica"};

class PlacementTest : public MultiNodeTest {
 protected:
  // Ten connectors, affinities in turn, each created through a different side-car.
  void AddTenConnectors() {
    for (int i = 0; i < 10; ++i) {
      ASSERT_NO_FATAL_FAILURE(AddConnector(absl::StrCat("c", i), kAffinities[i % 3], i % 3));
    }
  }

  // Every host lists, under ?host=X, exactly the connectors placed on X.
  void ExpectListsByHost(const std::map<std::string, size_t>& placed) {
    for (size_t host = 0; host < cluster_->size(); ++host) {
      std::set<std::string> expected;
      for (const auto& [id, h] : placed) {
        if (h == host) expected.insert(id);
      }
      for (size_t via = 0; via < cluster_->size(); ++via) {
        EXPECT_EQ(ListedOnHost(via, Cluster::HostId(host)), expected)
            << "GET /connectors?host=" << Cluster::HostId(host) << " on " << Cluster::HostId(via);
      }
    }
  }
};

TEST_F(PlacementTest, EachConnectorRunsOnExactlyOneEligibleHost) {
  // No read-only replica: its connectors fall back to the followers.
  ASSERT_NO_FATAL_FAILURE(StartCluster({"leader", "follower", "follower"}));
  ASSERT_NO_FATAL_FAILURE(AddTenConnectors());
  auto placed = WaitForPlacement(absl::Seconds(20));
  ASSERT_TRUE(placed.has_value());
  ExpectListsByHost(*placed);

  ASSERT_NO_FATAL_FAILURE(Append(40));
  for (const auto& [id, host] : *placed) {
    ASSERT_TRUE(WaitForDelivery(id, absl::Seconds(20)));
    // Only the host running it ever opened its sink, and it delivered each event exactly once.
    for (size_t i = 0; i < cluster_->size(); ++i) {
      if (i != host) {
        EXPECT_FALSE(std::filesystem::exists(cluster_->OutputOf(i, id)))
            << id << " also wrote output on " << Cluster::HostId(i);
      }
    }
    auto lines = Output(host, id);
    e2e::CrashReport report = e2e::CheckCrashOutput(lines, {}, appended_ids_, 0);
    EXPECT_TRUE(report.problems.empty()) << id << ": " << report.problems.front();
    EXPECT_EQ(lines.size(), appended_ids_.size()) << id;
  }
}

TEST_F(PlacementTest, LeaderChangeMovesLeaderConnectors) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"leader", "follower", "follower"}));
  ASSERT_NO_FATAL_FAILURE(AddTenConnectors());
  auto before = WaitForPlacement(absl::Seconds(20));
  ASSERT_TRUE(before.has_value());
  ASSERT_NO_FATAL_FAILURE(Append(30));
  for (const auto& [id, host] : *before) ASSERT_TRUE(WaitForDelivery(id, absl::Seconds(20)));

  // m2 becomes the leader; m1 a read-only replica, so every tier has exactly one host now.
  const absl::Time changed_at = absl::Now();
  ASSERT_EQ(cluster_->SetRoles({"readOnlyReplica", "leader", "follower"}), absl::OkStatus());
  // A new owner whose claim loses the race with the old owner's final checkpoint is fenced and
  // waits a lease before it claims again (the supervisor's cool-down), hence the lease here.
  auto after = WaitForPlacement(cluster_->lease() + absl::Seconds(15));
  ASSERT_TRUE(after.has_value());
  std::cerr << "placement after the leader change settled in "
            << absl::FormatDuration(absl::Now() - changed_at) << "\n";
  for (const auto& [id, host] : *after) {
    const std::string& affinity = affinity_[id];
    if (affinity == "leader") {
      EXPECT_EQ(before->at(id), 0u) << id;
      EXPECT_EQ(host, 1u) << id << " did not move to the new leader";
    }
    if (affinity == "readOnlyReplica") EXPECT_EQ(host, 0u) << id;
    if (affinity == "follower") EXPECT_EQ(host, 2u) << id;
  }
  ExpectListsByHost(*after);

  // Nothing lost across the move, and each host delivered in log order.
  ASSERT_NO_FATAL_FAILURE(Append(30));
  for (const auto& [id, host] : *after) {
    ASSERT_TRUE(WaitForDelivery(id, absl::Seconds(20)));
    for (size_t i = 0; i < cluster_->size(); ++i) {
      ExpectIncreasing(Output(i, id), absl::StrCat(id, " on ", Cluster::HostId(i)));
    }
  }
}

}  // namespace
}  // namespace esdb::multinode
