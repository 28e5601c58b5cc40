// A side-car is SIGKILLed while its node member stays alive: its lease runs out and its
// connectors resume on another eligible host from their checkpoints; nothing else moves.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crash_check.h"
#include "multinode_test.h"
#include "node_grpc.h"

namespace esdb::multinode {
namespace {

// Checkpoints every this many records (and on the scans the runner commits between them).
constexpr int kRecordsThreshold = 100;
constexpr int kBatchSize = 100;  // batching:batchSize, the default
// A checkpoint covers fewer than kRecordsThreshold + kBatchSize records, and while it is being
// appended in the background delivery goes on for as many again at most (docs/architecture.md:
// a crash replays about two checkpoints' worth), so that is what a crash may replay.
constexpr size_t kReplayBound = 2 * (kRecordsThreshold + kBatchSize);

// The newest checkpoint of `id` that `host` wrote, read from the log.
std::optional<uint64_t> LastCheckpointBy(const std::string& target, const std::string& id,
                                         const std::string& host) {
  auto newest = ReadStreamBackwards(target, absl::StrCat("$connectors/", id, "/checkpoints"), 10);
  EXPECT_TRUE(newest.ok()) << newest.status();
  if (!newest.ok()) return std::nullopt;
  for (const StoredEvent& e : *newest) {
    nlohmann::json data = nlohmann::json::parse(e.data, nullptr, false);
    if (data.is_object() && data.value("host", "") == host) {
      return data["position"].value("commit", uint64_t{0});
    }
  }
  return std::nullopt;
}

class FailoverTest : public MultiNodeTest {};

TEST_F(FailoverTest, KilledSidecarsConnectorsResumeElsewhereWithinTheLease) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"leader", "follower", "follower"}));
  const char* kinds[] = {"leader", "follower", "readOnlyReplica"};
  const nlohmann::json extra = {{"autocommit:recordsThreshold", std::to_string(kRecordsThreshold)},
                                {"autocommit:interval", "600000"},
                                {"batching:batchSize", std::to_string(kBatchSize)}};
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
  // The output each moved connector was left with, read before anyone else can take it over.
  std::map<std::string, e2e::CrashPoint> crash;
  for (const std::string& id : moved) {
    e2e::CrashPoint& c = crash[id];
    e2e::OutputShape shape = e2e::InspectSinkOutput(cluster_->OutputOf(victim, id));
    c.lines = shape.lines;
    c.partial_bytes = shape.partial_tail_bytes;
    c.last_line_position = shape.last_position.value_or(0);
    c.appended_position = last_position_;
  }
  // Appended while the connectors have no runner.
  ASSERT_NO_FATAL_FAILURE(Append(250));

  auto after = WaitForPlacement(cluster_->lease() + absl::Seconds(15));
  ASSERT_TRUE(after.has_value());
  const absl::Duration took = absl::Now() - killed_at;
  // The victim's last checkpoints, the ones their successors resume from. Read only now: the
  // kill may come while a checkpoint append is on its way to the node, which may commit it a
  // moment after the kill. Once the connectors run elsewhere, what the victim wrote is all there.
  for (const std::string& id : moved) {
    crash[id].checkpoint = LastCheckpointBy(cluster_->grpc_target(), id, Cluster::HostId(victim));
    ASSERT_TRUE(crash[id].checkpoint.has_value()) << id << ": no checkpoint of the victim's";
  }
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
        e2e::CheckCrashOutput(lines, {crash[id]}, appended_ids_, kReplayBound);
    EXPECT_TRUE(report.problems.empty()) << id << ": " << report.problems.front();
    std::cerr << id << ": resumed on " << Cluster::HostId(host) << " from checkpoint "
              << *crash[id].checkpoint << ", replayed " << report.max_replay << " events\n";
  }
}

}  // namespace
}  // namespace esdb::multinode
