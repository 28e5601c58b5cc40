// Two hosts briefly believing they own a connector: a side-car frozen (SIGSTOP) for longer than
// its lease is taken for dead and its connector resumes elsewhere; thawed, it still believes it
// runs the connector (to itself it never stopped being alive), so both hosts run it for a moment.
// The checkpoint's expected revision fences the stale runner at its next checkpoint; afterwards
// the connector runs on one host only and nothing is lost.
#include "absl/strings/str_cat.h"
#include "multinode_test.h"
#include "node_grpc.h"

namespace esdb::multinode {
namespace {

class FencingTest : public MultiNodeTest {};

TEST_F(FencingTest, StaleRunnerStopsAtItsNextCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"leader", "follower", "follower"}));
  // A checkpoint at least every second of delivery, so the thawed runner's next one comes soon.
  ASSERT_NO_FATAL_FAILURE(AddConnector("fx", "follower", 0, {{"autocommit:interval", "1000"}}));
  auto placed = WaitForPlacement(absl::Seconds(20));
  ASSERT_TRUE(placed.has_value());
  const size_t owner = placed->at("fx");
  const size_t other = owner == 1 ? 2 : 1;
  ASSERT_NO_FATAL_FAILURE(Append(20));
  ASSERT_TRUE(WaitForDelivery("fx", absl::Seconds(20)));

  ASSERT_EQ(cluster_->sidecar_process(owner).Pause(), absl::OkStatus());
  dead_.insert(owner);                  // not asked while frozen (it could not answer)
  ASSERT_NO_FATAL_FAILURE(Append(20));  // reaches the frozen runner's subscription too
  auto taken = WaitForPlacement(cluster_->lease() + absl::Seconds(15));
  ASSERT_TRUE(taken.has_value());
  ASSERT_EQ(taken->at("fx"), other);
  ASSERT_TRUE(WaitForDelivery("fx", absl::Seconds(20)));
  const std::string checkpoints = "$connectors/fx/checkpoints";
  auto newest = ReadStreamBackwards(cluster_->grpc_target(), checkpoints, 1);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(newest->front().data)["host"], Cluster::HostId(other))
      << "the new owner claimed the connector with a checkpoint";

  // Thawed: its runner delivers what it had buffered and tries to checkpoint, which is refused.
  // Only a refusal logged after the thaw counts (start-up may have fenced a runner already).
  e2e::ChildProcess& thawed = cluster_->sidecar_process(owner);
  const std::vector<std::string> fenced_line = {"connector 'fx'", "fenced off"};
  const size_t fenced_before = thawed.CountLogLines(fenced_line);
  ASSERT_EQ(thawed.Resume(), absl::OkStatus());
  dead_.erase(owner);
  EXPECT_TRUE(e2e::WaitUntil([&] { return thawed.CountLogLines(fenced_line) > fenced_before; },
                             absl::Seconds(15), absl::Milliseconds(50)))
      << Cluster::HostId(owner) << " was not fenced after the thaw";

  // Settled again: one runner. Both hosts are live, so rendezvous hands it back to its first
  // owner, which first sits out a lease after being fenced (the supervisor's cool-down); until
  // then the interim owner alone runs it, which is a settled placement too, so wait for the owner.
  auto settled = WaitForPlacement(cluster_->lease() + absl::Seconds(15), {{"fx", owner}});
  ASSERT_TRUE(settled.has_value());

  // Only the settled host delivers from now on, and nothing was lost on the way.
  const size_t other_lines = Output(other, "fx").size();
  ASSERT_NO_FATAL_FAILURE(Append(20));
  ASSERT_TRUE(WaitForDelivery("fx", absl::Seconds(20)));
  const std::set<std::string> latest(appended_ids_.end() - 20, appended_ids_.end());
  auto other_out = Output(other, "fx");
  EXPECT_EQ(other_out.size(), other_lines) << Cluster::HostId(other) << " kept delivering";
  for (const e2e::OutputLine& l : other_out) {
    EXPECT_FALSE(latest.contains(l.event_id))
        << Cluster::HostId(other) << " delivered " << l.event_id;
  }
  ExpectIncreasing(other_out, "the interim owner's output");
}

}  // namespace
}  // namespace esdb::multinode
