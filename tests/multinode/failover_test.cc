// A side-car is SIGKILLed while its node member stays alive: its lease runs out and its
// connectors resume on another eligible host from their checkpoints; nothing else moves.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crash_check.h"
#include "multinode_test.h"

namespace esdb::multinode {
namespace {

// Checkpoints every this many records (and on the scans the runner commits between them), so a
// crash replays at most this many events.
constexpr int kRecordsThreshold = 100;

class FailoverTest : public MultiNodeTest {};

TEST_F(FailoverTest, KilledSidecarsConnectorsResumeElsewhereWithinTheLease) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"leader", "follower", "follower"}));
  const char* kinds[] = {"leader", "follower", "readOnlyReplica"};
  const nlohmann::json extra = {{"autocommit:recordsThreshold", std::to_string(kRecordsThreshold)},
                                {"autocommit:interval", "600000"}};
  for (int i = 0; i < 10; ++i) {
    ASSERT_NO_FATAL_FAILURE(AddConnector(absl::StrCat("c", i), kinds[i % 3], i % 3, extra));
  }
  auto before = WaitForPlacement(absl::Seconds(20));
  ASSERT_TRUE(before.has_value());
  ASSERT_NO_FATAL_FAILURE(Append(250));
  for (const auto& [id, host] : *before) ASSERT_TRUE(WaitForDelivery(id, absl::Seconds(20)));

  // The victim: the follower side-car running the most connectors.
  std::map<size_t, std::vector<std::string>> by_host;
  for (const auto& [id, host] : *before) by_host[host].push_back(id);
  const size_t victim = by_host[1].size() >= by_host[2].size() ? 1 : 2;
  const std::vector<std::string> moved = by_host[victim];
  ASSERT_FALSE(moved.empty()) << "no follower side-car runs a connector";

  ASSERT_EQ(cluster_->sidecar_process(victim).Kill().status(), absl::OkStatus());
  const absl::Time killed_at = absl::Now();
  dead_.insert(victim);
  // The state each moved connector was left in, read before anyone else can take it over.
  std::map<std::string, e2e::CrashPoint> crash;
  for (const std::string& id : moved) {
    e2e::CrashPoint& c = crash[id];
    e2e::OutputShape shape = e2e::InspectSinkOutput(cluster_->OutputOf(victim, id));
    c.lines = shape.lines;
    c.partial_bytes = shape.partial_tail_bytes;
    c.last_line_position = shape.last_position.value_or(0);
    c.appended_position = last_position_;
    e2e::Reply view = cluster_->sidecar(0).Connector(id);
    ASSERT_EQ(view.status, 200) << view.body;
    ASSERT_TRUE(view.json["position"].is_number()) << view.body;
    c.checkpoint = view.json["position"].get<uint64_t>();
  }
  // Appended while the connectors have no runner.
  ASSERT_NO_FATAL_FAILURE(Append(250));

  auto after = WaitForPlacement(cluster_->lease() + absl::Seconds(15));
  ASSERT_TRUE(after.has_value());
  const absl::Duration took = absl::Now() - killed_at;
  EXPECT_LE(took, cluster_->lease() + absl::Seconds(5))
      << "fail-over took " << absl::FormatDuration(took);
  std::cerr << "fail-over of " << moved.size() << " connectors took " << absl::FormatDuration(took)
            << " (lease " << absl::FormatDuration(cluster_->lease()) << ")\n";
  // Rendezvous placement: only the victim's connectors move.
  for (const auto& [id, host] : *before) {
    if (host != victim) EXPECT_EQ(after->at(id), host) << id << " moved needlessly";
  }

  for (const auto& [id, host] : *after) {
    ASSERT_TRUE(WaitForDelivery(id, absl::Seconds(30)));
    if (!crash.contains(id)) {
      // Untouched: delivered exactly once, in order.
      auto lines = Output(host, id);
      e2e::CrashReport report = e2e::CheckCrashOutput(lines, {}, appended_ids_, 0);
      EXPECT_TRUE(report.problems.empty()) << id << ": " << report.problems.front();
      EXPECT_EQ(lines.size(), appended_ids_.size()) << id;
      continue;
    }
    // What the victim wrote, then what its successor wrote: one delivery with one crash in it.
    std::vector<e2e::OutputLine> lines = Output(victim, id);
    ASSERT_EQ(lines.size(), crash[id].lines) << id << ": the dead host's output changed";
    for (const e2e::OutputLine& l : Output(host, id)) lines.push_back(l);
    e2e::CrashReport report =
        e2e::CheckCrashOutput(lines, {crash[id]}, appended_ids_, kRecordsThreshold);
    EXPECT_TRUE(report.problems.empty()) << id << ": " << report.problems.front();
    std::cerr << id << ": resumed on " << Cluster::HostId(host) << " from checkpoint "
              << *crash[id].checkpoint << ", replayed " << report.max_replay << " events\n";
  }
}

}  // namespace
}  // namespace esdb::multinode
