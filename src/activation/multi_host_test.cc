// Several hosts (library instances, each attached to a different member) over one log: every
// enabled connector runs on exactly one eligible host, and moves when hosts or roles change.
#include <map>

#include "absl/strings/str_cat.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"
#include "library/library.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

using nlohmann::json;

class MultiHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_->SetMembers({{"m1", ESDB_ROLE_LEADER, true, ""},
                       {"m2", ESDB_ROLE_FOLLOWER, true, ""},
                       {"m3", ESDB_ROLE_FOLLOWER, true, ""}});
    for (const char* m : {"m1", "m2", "m3"}) StartHost(m);
  }

  void StartHost(const std::string& member) {
    LibraryConfig config;
    config.plugins_dir = ESDB_PLUGIN_DIR;
    config.lease_ms = 600;
    auto lib = Library::Start(node_->ApiForMember(member), config);
    ASSERT_TRUE(lib.ok()) << lib.status();
    hosts_[member] = std::move(*lib);
  }

  ApiResponse Call(const std::string& host, std::string method, std::string path,
                   std::string body = "") {
    std::string query;
    if (auto q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.resize(q);
    }
    ApiRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.query = std::move(query);
    r.content_type = body.empty() ? "" : "application/json";
    r.body = std::move(body);
    r.caller.kind = Caller::Kind::kInsecure;
    return hosts_.at(host)->api().Handle(r);
  }

  // The hosts whose runner for `id` is active.
  std::vector<std::string> RunningOn(const std::string& id) {
    std::vector<std::string> out;
    for (auto& [name, lib] : hosts_) {
      auto r = Call(name, "GET", "/connectors/" + id);
      if (r.status == 200 && json::parse(r.body)["runningHere"] == true) out.push_back(name);
    }
    return out;
  }

  // Waits until every connector runs on exactly one host that `eligible` accepts.
  bool WaitForPlacement(const std::map<std::string, std::string>& affinity,
                        const std::function<bool(const std::string& id, const std::string& host)>& eligible) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    std::string last;
    while (absl::Now() < deadline) {
      bool ok = true;
      for (auto& [id, a] : affinity) {
        auto on = RunningOn(id);
        // Settled: one eligible runner, and the connector's stream names it as RUNNING there.
        json view = json::parse(Call(hosts_.begin()->first, "GET", "/connectors/" + id).body);
        if (on.size() != 1 || !eligible(id, on[0]) || view["state"] != "RUNNING" ||
            view["host"] != on[0]) {
          ok = false;
          last = absl::StrCat(id, " runs on ", on.size(), " hosts", on.empty() ? "" : (": " + on[0]),
                              "; ", Call(hosts_.begin()->first, "GET", "/connectors/" + id).body);
          break;
        }
      }
      if (ok) return true;
      absl::SleepFor(absl::Milliseconds(20));  // placement is decided by other threads
    }
    ADD_FAILURE() << "placement not reached: " << last;
    return false;
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  std::map<std::string, std::unique_ptr<Library>> hosts_;
};

TEST_F(MultiHostTest, EachConnectorRunsOnExactlyOneEligibleHostAndMoves) {
  std::map<std::string, std::string> affinity;
  const char* kinds[] = {"leader", "follower", "readOnlyReplica"};
  for (int i = 0; i < 10; ++i) {
    std::string id = absl::StrCat("c", i);
    affinity[id] = kinds[i % 3];
    // Created and enabled through whichever host: every host sees it through the log.
    std::string via = absl::StrCat("m", 1 + i % 3);
    ASSERT_EQ(Call(via, "POST", "/connectors/" + id,
                   absl::StrCat(R"({"instanceTypeName":"null-sink","affinity":")", affinity[id], "\"}"))
                  .status,
              201);
    ASSERT_EQ(Call(via, "POST", "/connectors/" + id + "/enable").status, 200);
  }
  auto roles = [&](std::map<std::string, std::string> role_of) {
    return [&affinity, role_of](const std::string& id, const std::string& host) {
      const std::string& a = affinity.at(id);
      const std::string& r = role_of.at(host);
      // No read-only replica here: replica work falls back to followers.
      return a == "leader" ? r == "leader" : r == "follower";
    };
  };
  ASSERT_TRUE(WaitForPlacement(affinity, roles({{"m1", "leader"}, {"m2", "follower"}, {"m3", "follower"}})));
  // Every host reports the same runner in its view of the connector.
  for (auto& [id, a] : affinity) {
    std::string runner = RunningOn(id)[0];
    for (auto& [name, lib] : hosts_) {
      EXPECT_EQ(json::parse(Call(name, "GET", "/connectors/" + id).body)["host"], runner);
    }
  }

  // A host dies while its node member stays alive: its lease runs out and its connectors move.
  hosts_.erase("m3");
  ASSERT_TRUE(WaitForPlacement(affinity, [&](const std::string& id, const std::string& host) {
    return affinity[id] == "leader" ? host == "m1" : host == "m2";
  }));

  // The leader changes: leader-affinity connectors move to the new leader.
  node_->SetMembers({{"m1", ESDB_ROLE_FOLLOWER, true, ""},
                     {"m2", ESDB_ROLE_LEADER, true, ""},
                     {"m3", ESDB_ROLE_FOLLOWER, true, ""}});
  ASSERT_TRUE(WaitForPlacement(affinity, [&](const std::string& id, const std::string& host) {
    return affinity[id] == "leader" ? host == "m2" : host == "m1";
  }));
  auto list = json::parse(Call("m1", "GET", "/connectors?host=m2").body);
  int leader_connectors = 0;
  for (auto& [id, a] : affinity) leader_connectors += a == "leader";
  EXPECT_EQ(list["total"], leader_connectors);
}

TEST_F(MultiHostTest, DisableThroughAnotherHostStopsTheRunner) {
  ASSERT_EQ(Call("m2", "POST", "/connectors/x", R"({"instanceTypeName":"null-sink"})").status, 201);
  ASSERT_EQ(Call("m2", "POST", "/connectors/x/enable").status, 200);
  ASSERT_TRUE(WaitForPlacement({{"x", "leader"}}, [](auto&, const std::string& h) { return h == "m1"; }));
  ASSERT_EQ(Call("m3", "POST", "/connectors/x/disable").status, 200);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string state;
  while (absl::Now() < deadline) {
    state = json::parse(Call("m3", "GET", "/connectors/x").body)["state"];
    if (state == "STOPPED" && RunningOn("x").empty()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(state, "STOPPED");
  EXPECT_TRUE(RunningOn("x").empty());
}

}  // namespace
}  // namespace esdb
