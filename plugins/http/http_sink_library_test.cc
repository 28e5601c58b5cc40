// http-sink end to end: a whole library over the in-memory node delivers to a real receiver
// process that answers 503s, 429 with Retry-After, stalls and drops connections on a schedule.
// The host's retries must still get every event there, in log order; a 400 must turn the
// connector FAILED with the receiver's reason in its state.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "library/library.h"
#include "nlohmann/json.hpp"
#include "secrets/key_ring.h"
#include "testing/receiver_process.h"

namespace esdb {
namespace {

using ::esdb::testing::ReceiverProcess;
using nlohmann::json;
using ::testing::HasSubstr;

class HttpSinkLibraryTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    auto receiver = ReceiverProcess::Start(ESDB_HTTP_RECEIVER);
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = *std::move(receiver);
    LibraryConfig config;
    config.plugins_dir = ESDB_PLUGIN_DIR;
    config.secrets_key_file = key_file_;
    ASSERT_TRUE(secrets::CreateMasterKeyFileIfMissing(key_file_).ok());
    auto lib = Library::Start(node_->api(), config);
    ASSERT_TRUE(lib.ok()) << lib.status();
    lib_ = std::move(*lib);
  }
  void TearDown() override {
    lib_.reset();
    std::remove(key_file_.c_str());
  }

  ApiResponse Call(std::string method, std::string path, std::string body = "") {
    ApiRequest r;
    r.caller.kind = Caller::Kind::kInsecure;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    if (!r.body.empty()) r.content_type = "application/json";
    return lib_->api().Handle(r);
  }

  void CreateAndEnable(const std::string& id, int batch_size, int max_in_flight = 1) {
    json settings = {{"instanceTypeName", "http-sink"},
                     {"url", receiver_->Url("/in")},
                     {"requestTimeoutMs", "400"},
                     {"subscription:initialPosition", "earliest"},
                     {"resilience:firstDelayMs", "5"},
                     {"resilience:maxDelayMs", "50"},
                     {"batching:batchSize", std::to_string(batch_size)},
                     {"batching:batchTimeoutMs", "5"},
                     {"batching:maxInFlight", std::to_string(max_in_flight)},
                     {"autocommit:interval", "50"}};
    ApiResponse created = Call("POST", "/connectors/" + id, json({{"settings", settings}}).dump());
    ASSERT_EQ(created.status, 201) << created.body;
    ApiResponse enabled = Call("POST", "/connectors/" + id + "/enable");
    ASSERT_EQ(enabled.status, 200) << enabled.body;
  }

  // Appends `n` events spread over three streams, one append each, in a known order.
  void AppendEvents(int n) {
    for (int i = 0; i < n; ++i) {
      devnode::AppendEvent e;
      e.event_type = "Placed";
      e.data = absl::StrCat(R"({"i":)", i, "}");
      auto r = node_->Append(absl::StrCat("orders-", i % 3), ESDB_EXPECT_ANY, {e});
      ASSERT_TRUE(r.ok()) << r.status();
      expected_.push_back(r->position);
    }
  }

  // Polls the connector's state, which another thread writes; true once it is `state`.
  bool WaitForState(const std::string& id, const std::string& state, json& last) {
    for (int i = 0; i < 2000; ++i) {
      ApiResponse r = Call("GET", "/connectors/" + id);
      last = json::parse(r.body, nullptr, false);
      if (r.status == 200 && last.value("state", "") == state) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  const std::string key_file_ = absl::StrCat(::testing::TempDir(), "/http-sink-library-", getpid(),
                                             "-", rand(), ".key");
  std::unique_ptr<ReceiverProcess> receiver_;
  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  std::unique_ptr<Library> lib_;
  std::vector<uint64_t> expected_;  // positions of the appended events, in log order
};

TEST_P(HttpSinkLibraryTest, EveryEventArrivesOnceInOrderDespiteFailures) {
  const int batch_size = GetParam();
  // Enough events that the whole schedule is used up at either batch size.
  const int kEvents = batch_size == 1 ? 120 : 1000;
  // Failures early on and again later, so that some hit batches in the middle of the log.
  const std::string schedule =
      "503,429:1,ok,stall:1500,ok,drop,503,cut,ok,ok,500:0,408,ok,drop,ok,"
      "stall:600,ok,ok,503,ok,cut,ok";
  ASSERT_TRUE(receiver_->Schedule(schedule).ok());
  AppendEvents(kEvents / 2);
  CreateAndEnable("hooks", batch_size);
  AppendEvents(kEvents / 2);

  auto stats = receiver_->WaitDistinct(kEvents, 60000);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ((*stats)["distinct"], kEvents) << stats->dump();

  auto events = receiver_->Events();
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<uint64_t> first_seen;
  std::map<uint64_t, int> copies;
  std::map<std::string, uint64_t> next_revision;
  for (const json& e : *events) {
    uint64_t position = e["position"].get<uint64_t>();
    if (copies[position]++ > 0) continue;
    first_seen.push_back(position);
    // Within a stream, revisions arrive 0, 1, 2, ... (first copies only).
    std::string stream = e["stream"];
    EXPECT_EQ(e["revision"].get<uint64_t>(), next_revision[stream]++) << e.dump();
  }
  EXPECT_EQ(first_seen, expected_);
  // The schedule really did cause re-deliveries (stall and drop record before failing).
  EXPECT_GT(events->size(), first_seen.size());
  auto final_stats = receiver_->Stats();
  ASSERT_TRUE(final_stats.ok());
  EXPECT_GE((*final_stats)["deliveries"].get<size_t>(),
            static_cast<size_t>(std::count(schedule.begin(), schedule.end(), ',') + 1))
      << final_stats->dump();

  json state;
  EXPECT_TRUE(WaitForState("hooks", "RUNNING", state)) << state.dump();
}

// batching:maxInFlight 4 through the whole host: several batches go out at once on their own
// connections, answers come back in any order, some fail and are sent again. The host orders the
// checkpoint; here every event must get there (at least once), and the connector keep running.
TEST_P(HttpSinkLibraryTest, WithWritesInFlightEveryEventArrives) {
  const int batch_size = GetParam();
  const int kEvents = batch_size == 1 ? 200 : 1500;
  auto slow = ReceiverProcess::Start(ESDB_HTTP_RECEIVER, {"--latency-ms", "3"});
  ASSERT_TRUE(slow.ok()) << slow.status();
  receiver_ = *std::move(slow);
  ASSERT_TRUE(receiver_->Schedule("ok,ok,503,ok,drop,ok,ok,500:0,ok,cut,ok,ok,ok,503").ok());
  AppendEvents(kEvents / 2);
  CreateAndEnable("piped", batch_size, 4);
  AppendEvents(kEvents / 2);

  auto stats = receiver_->WaitDistinct(kEvents, 60000);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ((*stats)["distinct"], kEvents) << stats->dump();
  EXPECT_GT((*stats)["maxOpen"].get<int>(), 1)
      << "never more than one request at once " << stats->dump();
  auto events = receiver_->Events();
  ASSERT_TRUE(events.ok()) << events.status();
  std::vector<uint64_t> seen;
  for (const json& e : *events) seen.push_back(e["position"].get<uint64_t>());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  EXPECT_EQ(seen, expected_);
  json state;
  EXPECT_TRUE(WaitForState("piped", "RUNNING", state)) << state.dump();
}

INSTANTIATE_TEST_SUITE_P(BatchSizes, HttpSinkLibraryTest, ::testing::Values(1, 25),
                         [](const auto& info) { return absl::StrCat("BatchSize", info.param); });

TEST_F(HttpSinkLibraryTest, BadRequestTurnsTheConnectorFailedWithTheReason) {
  ASSERT_TRUE(receiver_->Schedule("400").ok());
  AppendEvents(3);
  CreateAndEnable("rejected", 1);
  json state;
  ASSERT_TRUE(WaitForState("rejected", "FAILED", state)) << state.dump();
  std::string reason = state["errorDetails"]["message"];
  EXPECT_THAT(reason, HasSubstr("HTTP 400"));
  EXPECT_THAT(reason, HasSubstr("scheduled answer 400"));
  // Nothing after the rejected event was sent: exactly one delivery attempt reached it.
  auto stats = receiver_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)["deliveries"], 1);
  EXPECT_EQ((*stats)["events"], 0);
}

// Secrets are sealed in the store (api_test proves that); the sink gets them in clear.
TEST_F(HttpSinkLibraryTest, SealedSecretsReachTheSinkInClear) {
  json settings = {{"instanceTypeName", "http-sink"},
                   {"url", receiver_->Url("/in")},
                   {"authentication:method", "bearer"},
                   {"authentication:bearer:token", "t0ken-in-clear"},
                   {"defaultHeaders:X-Api-Key", "k3y-in-clear"},
                   {"subscription:initialPosition", "earliest"}};
  ASSERT_EQ(Call("POST", "/connectors/sealed", json({{"settings", settings}}).dump()).status, 201);
  ASSERT_EQ(Call("POST", "/connectors/sealed/enable").status, 200);
  AppendEvents(1);
  ASSERT_TRUE(receiver_->WaitDistinct(1, 30000).ok());
  auto requests = receiver_->Requests();
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_FALSE(requests->empty());
  const json& headers = (*requests)[0]["headers"];
  EXPECT_EQ(headers.value("Authorization", ""), "Bearer t0ken-in-clear") << headers.dump();
  EXPECT_EQ(headers.value("X-Api-Key", ""), "k3y-in-clear") << headers.dump();
}

}  // namespace
}  // namespace esdb
