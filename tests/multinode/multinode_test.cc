#include "multinode_test.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "node_http.h"

namespace esdb::multinode {

using nlohmann::json;

void MultiNodeTest::TearDown() {
  const bool failed = HasFailure();
  if (failed && cluster_) {
    std::cerr << "multi-node logs (full logs under " << dir_ << "):\n" << cluster_->Logs();
  }
  cluster_.reset();
  // Kept after a failure for inspection.
  std::error_code ec;
  if (!failed && !dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void MultiNodeTest::StartCluster(const std::vector<std::string>& roles) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = std::filesystem::temp_directory_path() /
         absl::StrCat("esdb-multinode-", ::getpid(), "-", info->name());
  ClusterOptions options;
  options.dir = dir_;
  options.roles = roles;
  auto cluster = Cluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  cluster_ = std::move(*cluster);
}

void MultiNodeTest::AddConnector(const std::string& id, const std::string& affinity, size_t via,
                                 const json& extra) {
  json settings = {{"instanceTypeName", "file-sink"},
                   // Relative: each side-car writes into its own folder.
                   {"path", Cluster::OutputName(id)},
                   // A killed side-car loses nothing from the page cache; fsync only slows down.
                   {"fsync", "false"},
                   {"subscription:filter:scope", "stream"},
                   {"subscription:filter:filterType", "prefix"},
                   {"subscription:filter:expression", kEventStream},
                   {"subscription:initialPosition", "earliest"},
                   {"affinity", affinity}};
  for (auto& [k, v] : extra.items()) settings[k] = v;
  e2e::NodeHttp& http = cluster_->sidecar(via);
  e2e::Reply created = http.Post("/connectors/" + id, json{{"settings", settings}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  e2e::Reply enabled = http.Post("/connectors/" + id + "/enable");
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  affinity_[id] = affinity;
}

void MultiNodeTest::Append(int count) {
  auto events = e2e::MakeEvents(7, next_event_, count);
  e2e::Reply r = e2e::AppendEvents(cluster_->node(), kEventStream, events);
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(r.json.contains("position")) << r.body;
  last_position_ = r.json["position"].get<uint64_t>();
  for (const auto& e : events) appended_ids_.push_back(e.event_id);
  next_event_ += static_cast<uint32_t>(count);
}

bool MultiNodeTest::Eligible(const std::string& affinity, size_t host) const {
  if (dead_.contains(host)) return false;
  std::vector<std::string> tiers;
  if (affinity == "leader") tiers = {"leader"};
  if (affinity == "follower") tiers = {"follower", "leader"};
  if (affinity == "readOnlyReplica") tiers = {"readOnlyReplica", "follower", "leader"};
  const std::vector<std::string>& roles = cluster_->roles();
  for (const std::string& tier : tiers) {
    bool tier_live = false;
    for (size_t i = 0; i < roles.size(); ++i) tier_live |= !dead_.contains(i) && roles[i] == tier;
    if (tier_live) return roles[host] == tier;
  }
  return false;
}

std::optional<std::map<std::string, size_t>> MultiNodeTest::WaitForPlacement(
    absl::Duration timeout, const std::map<std::string, size_t>& expected) {
  std::map<std::string, size_t> placed;
  std::string last;
  auto settled = [&]() {
    placed.clear();
    for (const auto& [id, affinity] : affinity_) {
      std::vector<size_t> runners;
      std::vector<json> views;
      for (size_t i = 0; i < cluster_->size(); ++i) {
        if (dead_.contains(i)) continue;
        e2e::Reply r = cluster_->sidecar(i).Connector(id);
        if (r.status != 200) {
          last = absl::StrCat(Cluster::HostId(i), ": GET /connectors/", id, " -> ", r.status, " ",
                              r.body);
          return false;
        }
        if (r.json.value("runningHere", false)) runners.push_back(i);
        views.push_back(r.json);
      }
      if (runners.size() != 1) {
        last = absl::StrCat(id, " (", affinity, ") runs on ", runners.size(), " hosts");
        for (size_t r : runners) absl::StrAppend(&last, " ", Cluster::HostId(r));
        return false;
      }
      const size_t host = runners[0];
      if (auto want = expected.find(id); want != expected.end() && want->second != host) {
        last = absl::StrCat(id, " runs on ", Cluster::HostId(host), ", not yet on ",
                            Cluster::HostId(want->second));
        return false;
      }
      if (!Eligible(affinity, host)) {
        last = absl::StrCat(id, " (", affinity, ") runs on ", Cluster::HostId(host), ", a ",
                            cluster_->roles()[host]);
        return false;
      }
      for (const json& v : views) {
        if (v["state"] != "RUNNING" || v["host"] != Cluster::HostId(host)) {
          last =
              absl::StrCat(id, " runs on ", Cluster::HostId(host), " but a view says ", v.dump());
          return false;
        }
      }
      placed[id] = host;
    }
    return true;
  };
  if (e2e::WaitUntil(settled, timeout, absl::Milliseconds(50))) return placed;
  ADD_FAILURE() << "placement not reached within " << absl::FormatDuration(timeout) << ": " << last;
  return std::nullopt;
}

std::vector<e2e::OutputLine> MultiNodeTest::Output(size_t host, const std::string& id) {
  auto out = e2e::ReadSinkOutput(cluster_->OutputOf(host, id));
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? out->lines : std::vector<e2e::OutputLine>{};
}

bool MultiNodeTest::WaitForDelivery(const std::string& id, absl::Duration timeout) {
  size_t missing = 0;
  bool done = e2e::WaitUntil(
      [&] {
        std::set<std::string> seen;
        for (size_t i = 0; i < cluster_->size(); ++i) {
          for (const e2e::OutputLine& l : Output(i, id)) seen.insert(l.event_id);
        }
        missing = 0;
        for (const std::string& e : appended_ids_) missing += !seen.contains(e);
        return missing == 0;
      },
      timeout, absl::Milliseconds(50));
  if (!done) {
    ADD_FAILURE() << id << ": " << missing << " of " << appended_ids_.size()
                  << " appended events never delivered";
  }
  return done;
}

void MultiNodeTest::ExpectIncreasing(const std::vector<e2e::OutputLine>& lines,
                                     const std::string& what) {
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].position <= lines[i - 1].position) {
      ADD_FAILURE() << what << ": line " << i + 1 << " at position " << lines[i].position
                    << " follows " << lines[i - 1].position;
      return;
    }
  }
}

std::set<std::string> MultiNodeTest::ListedOnHost(size_t via, const std::string& host_id) {
  e2e::Reply r = cluster_->sidecar(via).Get("/connectors?host=" + host_id + "&take=1000");
  EXPECT_EQ(r.status, 200) << r.body;
  std::set<std::string> ids;
  if (r.status != 200) return ids;
  for (const json& item : r.json["items"]) ids.insert(item["connectorId"].get<std::string>());
  EXPECT_EQ(r.json["total"].get<size_t>(), ids.size()) << r.body;
  return ids;
}

}  // namespace esdb::multinode
