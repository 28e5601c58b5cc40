// The failure policy end to end: the real dev node, the real http-sink and a local receiver
// (plugins/http/testing). A record the receiver refuses for good goes to the dead-letter stream
// and is replayed later; a receiver that is down fails the connector, which restarts itself and
// delivers everything once the receiver is back; a write that never completes is reported.
#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/receiver_process.h"

namespace esdb::e2e {
namespace {

using esdb::testing::ReceiverProcess;
using nlohmann::json;
using ::testing::HasSubstr;

class FailurePolicyE2eTest : public DevnodeTest {
 protected:
  std::unique_ptr<ReceiverProcess> StartReceiver(const std::vector<std::string>& args = {}) {
    auto r = ReceiverProcess::Start(ESDB_HTTP_RECEIVER, args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }

  // `count` events over 10 streams, in appends of 500; those whose index is in `poison` carry
  // "poison" in their data.
  void AppendOrders(int count, const std::set<int>& poison = {}) {
    for (int first = 0; first < count; first += 500) {
      std::vector<NewEvent> events;
      for (int i = first; i < std::min(count, first + 500); ++i) {
        json data = {{"n", i}};
        if (poison.contains(i)) data["poison"] = true;
        events.push_back({TestEventId(13, i), "OrderPlaced", data});
      }
      Reply r = AppendEvents(http(), absl::StrCat("orders-", first / 500 % 10), events);
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }

  void CreateAndEnable(const std::string& id, const json& settings) {
    Reply created = http().Post("/connectors/" + id, json{{"settings", settings}}.dump());
    ASSERT_EQ(created.status, 201) << created.body;
    Reply enabled = http().Post("/connectors/" + id + "/enable");
    ASSERT_EQ(enabled.status, 200) << enabled.body;
  }

  // The event types of a stream read over the dev node's HTTP API (`encoded`: its name with '/'
  // as %2F and '$' as %24).
  std::vector<std::string> StreamTypes(const std::string& encoded) {
    std::vector<std::string> types;
    Reply r = http().Get("/streams/" + encoded + "?count=4096");
    if (r.status != 200) return types;
    for (const json& e : r.json["events"]) types.push_back(e["eventType"]);
    return types;
  }
};

TEST_F(FailurePolicyE2eTest, PoisonRecordsAreSetAsideInOrderAndReplayedOnceAccepted) {
  constexpr int kRecords = 10000;
  const std::set<int> poison = {1234, 5678, 9012};
  auto refusing = StartReceiver({"--reject", "poison"});
  ASSERT_NE(refusing, nullptr);
  const uint16_t port = refusing->port();
  ASSERT_NO_FATAL_FAILURE(AppendOrders(kRecords, poison));
  ASSERT_NO_FATAL_FAILURE(
      CreateAndEnable("orders-out", {{"instanceTypeName", "http-sink"},
                                     {"url", refusing->Url("/ingest")},
                                     {"subscription:filter:filterType", "prefix"},
                                     {"subscription:filter:expression", "orders-"},
                                     {"subscription:initialPosition", "earliest"},
                                     {"errors:tolerance", "all"}}));

  auto stats = refusing->WaitDistinct(kRecords - poison.size(), 60000);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ((*stats)["distinct"], kRecords - poison.size()) << stats->dump();
  ASSERT_TRUE(
      WaitUntil([&] { return http().Connector("orders-out").json["deadLetters"]["count"] == 3; },
                absl::Seconds(30)))
      << http().Connector("orders-out").body;

  // 9,997 records, each once, in log order; none of them poison.
  auto events = refusing->Events();
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), kRecords - poison.size());
  for (size_t i = 1; i < events->size(); ++i) {
    ASSERT_LT((*events)[i - 1]["position"].get<uint64_t>(),
              (*events)[i]["position"].get<uint64_t>())
        << "at " << i;
  }
  std::set<uint64_t> delivered;
  for (const json& e : *events) delivered.insert(e["position"].get<uint64_t>());

  // The three in the dead-letter stream, in order, with their context.
  Reply listed = http().Get("/connectors/orders-out/dead-letters");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json["stream"], "$connectors/orders-out/dead-letters");
  ASSERT_EQ(listed.json["items"].size(), 3u) << listed.body;
  std::vector<uint64_t> poisoned;
  auto expected = poison.begin();
  for (const json& item : listed.json["items"]) {
    EXPECT_EQ(item["data"]["n"], *expected++) << item.dump();
    EXPECT_EQ(item["data"]["poison"], true);
    EXPECT_EQ(item["eventType"], "OrderPlaced");
    EXPECT_THAT(item["stream"].get<std::string>(), HasSubstr("orders-"));
    EXPECT_THAT(item["error"].get<std::string>(), HasSubstr("400"));
    EXPECT_EQ(item["attempts"], 1);
    EXPECT_FALSE(item["eventId"].get<std::string>().empty());
    uint64_t position = item["position"];
    EXPECT_FALSE(delivered.contains(position)) << "delivered and dead-lettered: " << position;
    poisoned.push_back(position);
  }
  EXPECT_TRUE(std::is_sorted(poisoned.begin(), poisoned.end()));
  // Any client can read the stream itself from the node.
  EXPECT_EQ(StreamTypes("%24connectors%2Forders-out%2Fdead-letters"),
            std::vector<std::string>(3, "OrderPlaced"));
  json view = http().Connector("orders-out").json;
  EXPECT_EQ(view["state"], "RUNNING");
  EXPECT_THAT(view["deadLetters"]["lastError"]["message"].get<std::string>(), HasSubstr("400"));
  EXPECT_THAT(http().Get("/metrics").body,
              HasSubstr("esdb_connector_dead_letters_total{connector=\"orders-out\"} 3"));

  // The receiver accepts them now (same address, no refusals): a replay delivers them in their
  // order and records it; the dead letters stay in the stream as history.
  refusing.reset();
  auto accepting = StartReceiver({"--port", std::to_string(port)});
  ASSERT_NE(accepting, nullptr);
  Reply replay = http().Post("/connectors/orders-out/dead-letters/replay");
  ASSERT_EQ(replay.status, 202) << replay.body;
  auto replayed = accepting->WaitDistinct(3, 30000);
  ASSERT_TRUE(replayed.ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return http().Get("/connectors/orders-out/dead-letters").json["pending"] == 0; },
      absl::Seconds(30)));
  auto again = accepting->Events();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 3u) << again->dump();  // nothing else was delivered again
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*again)[i]["position"], poisoned[i]);
  Reply after = http().Get("/connectors/orders-out/dead-letters");
  EXPECT_EQ(after.json["replayed"], 3);
  EXPECT_EQ(after.json["total"], 3);
  std::vector<std::string> types = StreamTypes("%24connectors%2Forders-out%2Fdead-letters");
  EXPECT_EQ(std::count(types.begin(), types.end(), "ConnectorDeadLetterReplayed"), 3);
  EXPECT_EQ(std::count(types.begin(), types.end(), "OrderPlaced"), 3);
}

TEST_F(FailurePolicyE2eTest, AReceiverThatIsDownFailsTheConnectorWhichRestartsItselfAndDelivers) {
  constexpr int kRecords = 200;
  uint16_t port;
  {
    auto probe = StartReceiver();  // a port nothing listens on once it is gone
    ASSERT_NE(probe, nullptr);
    port = probe->port();
  }
  ASSERT_NO_FATAL_FAILURE(AppendOrders(kRecords));
  ASSERT_NO_FATAL_FAILURE(
      CreateAndEnable("down", {{"instanceTypeName", "http-sink"},
                               {"url", absl::StrCat("http://127.0.0.1:", port, "/ingest")},
                               {"subscription:filter:filterType", "prefix"},
                               {"subscription:filter:expression", "orders-"},
                               {"subscription:initialPosition", "earliest"},
                               {"batching:batchSize", "50"},
                               {"resilience:maxAttempts", "2"},
                               {"resilience:firstDelayMs", "20"},
                               {"resilience:maxDelayMs", "50"},
                               {"restart:maxDelayMs", "2000"}}));
  // It fails, is restarted, and fails again: two restarts recorded.
  ASSERT_TRUE(WaitUntil(
      [&] { return http().Connector("down").json["restart"]["attempts"].get<int>() >= 2; },
      absl::Seconds(30)))
      << http().Connector("down").body;
  json failing = http().Connector("down").json;
  EXPECT_THAT(failing["errorDetails"]["message"].get<std::string>(),
              HasSubstr("sink still failing after 2 attempts"));

  // The receiver comes back; nobody touches the connector.
  auto receiver = StartReceiver({"--port", std::to_string(port)});
  ASSERT_NE(receiver, nullptr);
  auto stats = receiver->WaitDistinct(kRecords, 60000);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["distinct"], kRecords) << stats->dump();
  ASSERT_TRUE(WaitUntil(
      [&] {
        json v = http().Connector("down").json;
        return v["state"] == "RUNNING" && v["errorDetails"].is_null() &&
               v["restart"]["attempts"] == 0;
      },
      absl::Seconds(30)))
      << http().Connector("down").body;
  auto events = receiver->Events();
  ASSERT_TRUE(events.ok());
  for (size_t i = 1; i < events->size(); ++i) {
    EXPECT_LE((*events)[i - 1]["position"].get<uint64_t>(),
              (*events)[i]["position"].get<uint64_t>());
  }
  std::vector<std::string> types = StreamTypes("%24connectors%2Fdown");
  EXPECT_GE(std::count(types.begin(), types.end(), "ConnectorRestartScheduled"), 2);
  EXPECT_GE(std::count(types.begin(), types.end(), "ConnectorRestarted"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "ConnectorRecovered"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "ConnectorActivating"), 1);  // only our enable
}

// A node whose plugins are the test plugins, for testkit-sink.
class MisbehavingPluginE2eTest : public FailurePolicyE2eTest {
 protected:
  std::vector<std::string> ExtraNodeArgs() const override {
    return {"--plugins-dir", ESDB_TESTDATA_PLUGIN_DIR};
  }
};

TEST_F(MisbehavingPluginE2eTest, AWriteThatNeverCompletesIsNotStuckForEverAndSaysWhy) {
  ASSERT_NO_FATAL_FAILURE(AppendOrders(3));
  ASSERT_NO_FATAL_FAILURE(CreateAndEnable("hung", {{"instanceTypeName", "testkit-sink"},
                                                   {"target", "t"},
                                                   {"mode", "never"},
                                                   {"subscription:initialPosition", "earliest"},
                                                   {"resilience:writeTimeoutMs", "500"},
                                                   {"resilience:maxAttempts", "2"},
                                                   {"restart:policy", "never"}}));
  ASSERT_TRUE(WaitForState("hung", "FAILED"));
  std::string why = http().Connector("hung").json["errorDetails"]["message"];
  EXPECT_THAT(why, HasSubstr("after 2 attempts"));
  EXPECT_THAT(why, HasSubstr("did not complete within 500ms"));
  // The log says which connector, at each attempt.
  EXPECT_THAT(node().Logs(), HasSubstr("connector hung: write of 3 records failed"));

  // A plugin that completes a write twice: the second is ignored, and the log names the
  // connector.
  ASSERT_NO_FATAL_FAILURE(CreateAndEnable("twice", {{"instanceTypeName", "testkit-sink"},
                                                    {"target", "t"},
                                                    {"mode", "twice"},
                                                    {"subscription:initialPosition", "earliest"}}));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return absl::StrContains(node().Logs(),
                                 "connector twice: sink plugin 'testkit-sink' reported the outcome "
                                 "of one write more than once");
      },
      absl::Seconds(30)));
  ASSERT_TRUE(WaitForState("twice", "RUNNING"));
  EXPECT_TRUE(http().Connector("twice").json["errorDetails"].is_null());
}

}  // namespace
}  // namespace esdb::e2e
