// Automatic restarts (restart:policy): a FAILED connector is started again by the host that owns
// it, at a time recorded in its stream, with a growing delay, until it recovers; failures a
// restart cannot cure are left alone.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "library/library.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

using nlohmann::json;

bool PollUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class RestartPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugins_ = std::filesystem::path(::testing::TempDir()) /
               absl::StrCat("restart-plugins-", getpid(), "-",
                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(plugins_);
    for (auto [dir, name] : {std::pair{ESDB_PLUGIN_DIR, "libesdb_sink_null.so"},
                             std::pair{ESDB_TESTDATA_PLUGIN_DIR, "libesdb_sink_testkit.so"}}) {
      std::filesystem::remove(plugins_ / name);
      std::filesystem::create_symlink(std::filesystem::path(dir) / name, plugins_ / name);
    }
    node_->SetMembers({{"m1", ESDB_ROLE_LEADER, true, ""}, {"m2", ESDB_ROLE_FOLLOWER, true, ""}});
  }
  void TearDown() override {
    hosts_.clear();
    std::filesystem::remove_all(plugins_);
  }

  void StartHost(const std::string& member) {
    LibraryConfig config;
    config.plugins_dir = plugins_.string();
    config.lease_ms = 600;
    auto lib = Library::Start(node_->ApiForMember(member), config);
    ASSERT_TRUE(lib.ok()) << lib.status();
    hosts_[member] = std::move(*lib);
  }

  ApiResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& host = "m1") {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.content_type = body.empty() ? "" : "application/json";
    r.body = body;
    r.caller.kind = Caller::Kind::kInsecure;
    return hosts_.at(host)->api().Handle(r);
  }
  json View(const std::string& id, const std::string& host = "m1") {
    return json::parse(Call("GET", "/connectors/" + id, "", host).body);
  }

  // Appends events of a type some tests' sinks refuse.
  void AppendEvents(int n) {
    std::vector<EventData> events(n);
    for (EventData& e : events) {
      e.event_type = "Placed";
      e.data = "{}";
    }
    ASSERT_TRUE(client_.Append("orders-1", ESDB_EXPECT_ANY, events).ok());
  }

  // The connector's events, as (type, data) in order.
  std::vector<Record> Events(const std::string& id) {
    auto r = client_.ReadStreamEvents(ConnectorStream(id), Direction::kForwards, 0, 4096);
    return r.ok() ? *r : std::vector<Record>{};
  }
  std::vector<Record> EventsOf(const std::string& id, const std::string& type) {
    std::vector<Record> out;
    for (Record& r : Events(id)) {
      if (r.event_type == type) out.push_back(std::move(r));
    }
    return out;
  }

  void Create(const std::string& id, const std::string& settings) {
    ASSERT_EQ(Call("POST", "/connectors/" + id, settings).status, 201);
    ASSERT_EQ(Call("POST", "/connectors/" + id + "/enable").status, 200);
  }

  std::filesystem::path plugins_;
  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
  std::map<std::string, std::unique_ptr<Library>> hosts_;
};

TEST_F(RestartPolicyTest, AFailedConnectorRestartsLaterEachTimeAndRecoversWhenTheSinkWorks) {
  StartHost("m1");
  AppendEvents(5);
  Create("flaky", R"({"instanceTypeName":"testkit-sink","target":"x","mode":"fatal",)"
                  R"("subscription:initialPosition":"earliest","restart:maxDelayMs":"4000"})");
  // Two failures, each followed by a scheduled restart that is made.
  ASSERT_TRUE(PollUntil([&] { return EventsOf("flaky", kConnectorRestarted).size() >= 2; }));
  auto failed = EventsOf("flaky", kConnectorFailed);
  auto scheduled = EventsOf("flaky", kConnectorRestartScheduled);
  auto restarted = EventsOf("flaky", kConnectorRestarted);
  ASSERT_GE(scheduled.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    json s = json::parse(scheduled[i].data);
    EXPECT_EQ(s["attempt"], i + 1);
    // Scheduled in the same append as the failure, for 1 s then 2 s, jittered into the upper half.
    int64_t delay_ms = (s["at"].get<int64_t>() - scheduled[i].created_unix_us) / 1000;
    EXPECT_GE(delay_ms, 500 * (1 << i) - 50) << i;
    EXPECT_LE(delay_ms, 1000 * (1 << i)) << i;
    EXPECT_GE(restarted[i].created_unix_us, s["at"].get<int64_t>()) << "restarted early";
    EXPECT_EQ(json::parse(restarted[i].data)["requested"], false);
    EXPECT_EQ(json::parse(restarted[i].data)["host"], "m1");
    EXPECT_EQ(json::parse(failed[i].data)["error"],
              "sink failed: testkit-sink: target: rejected the batch");
  }
  // While it waits it is FAILED with the reason, the attempts and the next restart time.
  ASSERT_TRUE(PollUntil([&] {
    json v = View("flaky");
    return v["state"] == "FAILED" && !v["restart"]["nextRestartTime"].is_null();
  }));
  json v = View("flaky");
  EXPECT_GE(v["restart"]["attempts"].get<int>(), 2);
  EXPECT_EQ(v["restart"]["policy"], "onFailure");
  EXPECT_EQ(v["errorDetails"]["message"], "sink failed: testkit-sink: target: rejected the batch");

  // The sink is fixed: the next restart delivers, and the connector recovers.
  ASSERT_EQ(Call("PUT", "/connectors/flaky/settings",
                 R"({"instanceTypeName":"testkit-sink","target":"x","mode":"ok",)"
                 R"("subscription:initialPosition":"earliest","restart:maxDelayMs":"4000"})")
                .status,
            200);
  ASSERT_TRUE(PollUntil([&] { return !EventsOf("flaky", kConnectorRecovered).empty(); }));
  ASSERT_TRUE(PollUntil([&] { return View("flaky")["state"] == "RUNNING"; }));
  v = View("flaky");
  EXPECT_TRUE(v["errorDetails"].is_null()) << v.dump();
  EXPECT_EQ(v["restart"]["attempts"], 0);
  EXPECT_TRUE(v["restart"]["nextRestartTime"].is_null());
}

TEST_F(RestartPolicyTest, TheDelayNeverExceedsRestartMaxDelayMs) {
  StartHost("m1");
  AppendEvents(1);
  Create("capped", R"({"instanceTypeName":"testkit-sink","target":"x","mode":"fatal",)"
                   R"("subscription:initialPosition":"earliest","restart:maxDelayMs":"1000"})");
  // Uncapped, the third delay would be 2 to 4 s; capped at 1 s it is 0.5 to 1 s, like the first.
  ASSERT_TRUE(
      PollUntil([&] { return EventsOf("capped", kConnectorRestartScheduled).size() >= 3; }));
  auto scheduled = EventsOf("capped", kConnectorRestartScheduled);
  for (int i = 0; i < 3; ++i) {
    json s = json::parse(scheduled[i].data);
    EXPECT_EQ(s["attempt"], i + 1);
    int64_t delay_ms = (s["at"].get<int64_t>() - scheduled[i].created_unix_us) / 1000;
    EXPECT_GE(delay_ms, 500 - 50) << i;
    EXPECT_LE(delay_ms, 1000) << i;
  }
}

TEST_F(RestartPolicyTest, AConfigurationTheSinkRefusesAtOpenIsNotRestarted) {
  StartHost("m1");
  Create("misconfigured", R"({"instanceTypeName":"testkit-sink","target":"x",)"
                          R"("openResult":"invalid-config"})");
  ASSERT_TRUE(PollUntil([&] { return View("misconfigured")["state"] == "FAILED"; }));
  auto failed = EventsOf("misconfigured", kConnectorFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(json::parse(failed[0].data)["permanent"], true);
  EXPECT_TRUE(EventsOf("misconfigured", kConnectorRestartScheduled).empty());
  json v = View("misconfigured");
  EXPECT_EQ(v["restart"]["automatic"], false);
  EXPECT_TRUE(v["restart"]["nextRestartTime"].is_null());
  // A restart would have come within about a second: two seconds later it is still the same.
  absl::SleepFor(absl::Seconds(2));
  EXPECT_TRUE(EventsOf("misconfigured", kConnectorRestarted).empty());
  EXPECT_EQ(EventsOf("misconfigured", kConnectorStarting).size(), 1u);
  // An operator may still ask for one.
  ASSERT_EQ(Call("POST", "/connectors/misconfigured/restart").status, 200);
  ASSERT_TRUE(PollUntil([&] { return EventsOf("misconfigured", kConnectorFailed).size() == 2; }));
}

TEST_F(RestartPolicyTest, WithPolicyNeverAFailedConnectorStaysFailed) {
  StartHost("m1");
  AppendEvents(1);
  Create("once", R"({"instanceTypeName":"testkit-sink","target":"x","mode":"fatal",)"
                 R"("subscription:initialPosition":"earliest","restart:policy":"never"})");
  ASSERT_TRUE(PollUntil([&] { return View("once")["state"] == "FAILED"; }));
  EXPECT_TRUE(EventsOf("once", kConnectorRestartScheduled).empty());
  EXPECT_TRUE(View("once")["restart"]["nextRestartTime"].is_null());
  EXPECT_EQ(View("once")["restart"]["policy"], "never");
}

TEST_F(RestartPolicyTest, TheStartAttemptGuardIsNotUndoneByRestarts) {
  StartHost("m1");
  Create("crashy", R"({"instanceTypeName":"null-sink"})");
  ASSERT_TRUE(PollUntil([&] { return View("crashy")["state"] == "RUNNING"; }));
  hosts_.clear();
  // As if its host had crashed while starting it three times in a row.
  for (int i = 0; i < 3; ++i) {
    EventData e;
    e.event_type = kConnectorStarting;
    e.data = R"({"host":"m1"})";
    ASSERT_TRUE(
        client_
            .Append(ConnectorStream("crashy"), ESDB_EXPECT_ANY, std::span<const EventData>(&e, 1))
            .ok());
  }
  StartHost("m1");
  ASSERT_TRUE(PollUntil([&] { return View("crashy")["state"] == "FAILED"; }));
  auto failed = EventsOf("crashy", kConnectorFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(json::parse(failed[0].data)["permanent"], true);
  EXPECT_TRUE(EventsOf("crashy", kConnectorRestartScheduled).empty());
}

TEST_F(RestartPolicyTest, ARequestedRestartReplacesARunningRunner) {
  StartHost("m1");
  Create("steady", R"({"instanceTypeName":"null-sink"})");
  ASSERT_TRUE(PollUntil([&] { return View("steady")["state"] == "RUNNING"; }));
  size_t starts = EventsOf("steady", kConnectorStarting).size();
  // As any client would: a 409 "conflict" (the host appended to the stream at the same moment)
  // is tried again; the command is then decided on the state as it is.
  ApiResponse r;
  for (int attempt = 0; attempt < 5; ++attempt) {
    r = Call("POST", "/connectors/steady/restart");
    if (r.status != 409 || json::parse(r.body).value("error", "") != "conflict") break;
  }
  ASSERT_EQ(r.status, 200) << r.body;
  // The connector as it is when the answer is made: the new runner may be running already.
  EXPECT_THAT(json::parse(r.body)["state"].get<std::string>(),
              ::testing::AnyOf("ACTIVATING", "RUNNING"));
  ASSERT_TRUE(PollUntil([&] {
    return EventsOf("steady", kConnectorStarting).size() == starts + 1 &&
           View("steady")["state"] == "RUNNING";
  }));
  auto restarted = EventsOf("steady", kConnectorRestarted);
  ASSERT_EQ(restarted.size(), 1u);
  EXPECT_EQ(json::parse(restarted[0].data)["requested"], true);
  ASSERT_EQ(Call("POST", "/connectors/steady/disable").status, 200);
  ASSERT_TRUE(PollUntil([&] { return View("steady")["state"] == "STOPPED"; }));
  EXPECT_EQ(Call("POST", "/connectors/steady/restart").status, 409);
}

TEST_F(RestartPolicyTest, TheOwnerMakesARestartRecordedByAnotherHostWhenItIsDue) {
  StartHost("m1");
  StartHost("m2");
  // Runs on the follower's host (m2); m1 sees the same stream but does not own it.
  Create("moved", R"({"instanceTypeName":"null-sink","affinity":"follower"})");
  // m1 may place it on itself before it has seen m2's first heartbeat; it moves to m2 then.
  ASSERT_TRUE(PollUntil([&] {
    json v = View("moved");
    return v["state"] == "RUNNING" && v["host"] == "m2";
  })) << View("moved").dump();
  // Its host failed it and scheduled a restart 3 s ahead, then went away; m2 is the owner again
  // once back, and must wait for the recorded time.
  hosts_.erase("m2");
  const int64_t at = absl::ToUnixMicros(absl::Now() + absl::Seconds(3));
  std::vector<EventData> events(2);
  events[0].event_type = kConnectorFailed;
  events[0].data = R"({"host":"m2","error":"sink failed: gone"})";
  events[1].event_type = kConnectorRestartScheduled;
  events[1].data = absl::StrCat(R"({"attempt":1,"at":)", at, "}");
  ASSERT_TRUE(client_.Append(ConnectorStream("moved"), ESDB_EXPECT_ANY, events).ok());
  StartHost("m2");
  ASSERT_TRUE(PollUntil([&] { return !EventsOf("moved", kConnectorRestarted).empty(); }));
  auto restarted = EventsOf("moved", kConnectorRestarted);
  ASSERT_EQ(restarted.size(), 1u);
  EXPECT_GE(restarted[0].created_unix_us, at);
  EXPECT_LT(restarted[0].created_unix_us, at + 3'000'000);
  EXPECT_EQ(json::parse(restarted[0].data)["host"], "m2");  // only its owner restarts it
  ASSERT_TRUE(PollUntil([&] { return View("moved")["state"] == "RUNNING"; }));
  EXPECT_EQ(View("moved")["host"], "m2");
}

}  // namespace
}  // namespace esdb
