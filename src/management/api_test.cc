// Every management route's success and error cases, through a whole library instance over the
// in-memory node and the real plugins.
#include "management/api.h"

#include <filesystem>
#include <fstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/host_settings.h"
#include "core/json.h"
#include "delivery/dead_letters.h"
#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "library/library.h"
#include "management/configuration.h"
#include "management/list_query.h"
#include "nlohmann/json.hpp"
#include "secrets/key_ring.h"

namespace esdb {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

struct Headers {
  std::string origin;
  std::string host;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("esdb-api-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->random_seed(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    key_file_ = (dir_ / "secrets.key").string();
    ASSERT_TRUE(secrets::CreateMasterKeyFileIfMissing(key_file_).ok());
    StartLibrary(key_file_);
  }
  // (Re)starts the library over the same node with these master key files.
  void StartLibrary(const std::string& key_file, const std::string& previous_key_file = "") {
    lib_.reset();
    LibraryConfig config;
    config.plugins_dir = plugins_dir_;
    config.scan_checkpoint_interval = 10;
    config.secrets_key_file = key_file;
    config.secrets_previous_key_file = previous_key_file;
    config.destinations.files_root = dir_.string();
    auto lib = Library::Start(node_->api(), config);
    ASSERT_TRUE(lib.ok()) << lib.status();
    lib_ = std::move(*lib);
  }
  // Every byte the node holds for the connector's own stream.
  std::string StoredBytes(const std::string& id) {
    auto events =
        node_->ReadStream("$connectors/" + id, devnode::ReadDirection::kForwards, 0, 1000);
    std::string all;
    if (events.ok()) {
      for (const auto& e : *events) absl::StrAppend(&all, e.event_type, e.data, e.metadata);
    }
    return all;
  }
  std::string key_file_;
  std::string plugins_dir_ = ESDB_PLUGIN_DIR;
  void TearDown() override {
    lib_.reset();
    std::filesystem::remove_all(dir_);
  }

  // As `caller_` (an operator unless a test says otherwise).
  ApiResponse Call(std::string method, std::string path, std::string body = "",
                   std::string content_type = "application/json", Headers headers = {}) {
    ApiRequest r;
    r.caller = caller_;
    r.origin = headers.origin;
    r.host = headers.host;
    r.method = std::move(method);
    auto q = path.find('?');
    if (q != std::string::npos) {
      r.query = path.substr(q + 1);
      path.resize(q);
    }
    r.path = std::move(path);
    r.body = std::move(body);
    if (!r.body.empty() || content_type != "application/json") r.content_type = content_type;
    return lib_->api().Handle(r);
  }
  json Body(const ApiResponse& r) { return json::parse(r.body); }

  static Caller User(std::string name, std::vector<std::string> roles) {
    return Caller{Caller::Kind::kUser, std::move(name), std::move(roles)};
  }
  Caller caller_ = User("ops", {"$ops"});

  std::string FileSettings(const std::string& extra = "") {
    return absl::StrCat(
        R"({"settings":{"instanceTypeName":"file-sink","path":")", (dir_ / "out.jsonl").string(),
        R"(","subscription:initialPosition":"earliest","autocommit:interval":"50")", extra, "}}");
  }

  void ExpectError(const ApiResponse& r, int status, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.body;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_TRUE(j.contains("error")) << r.body;
    EXPECT_THAT(j.value("message", ""), HasSubstr(needle));
  }

  // Waits until GET /connectors/{id} reports `state`.
  bool WaitForState(const std::string& id, const std::string& state) {
    ApiResponse r;
    for (int i = 0; i < 2000; ++i) {
      r = Call("GET", "/connectors/" + id);
      if (r.status == 200 && Body(r)["state"] == state) return true;
      absl::SleepFor(absl::Milliseconds(5));  // the state is written by another thread
    }
    ADD_FAILURE() << "connector " << id << " never reached " << state << ": " << r.body;
    return false;
  }

  // Record lines in the file sink's output; its first line, the sink's header, is not one.
  size_t OutputLines() {
    std::ifstream in(dir_ / "out.jsonl");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      n += !line.empty() && line.rfind(R"({"esdbFileSink":)", 0) != 0;
    }
    return n;
  }

  void AppendEvents(int n) {
    std::vector<devnode::AppendEvent> events(n);
    for (int i = 0; i < n; ++i) {
      events[i].event_type = "Placed";
      events[i].data = absl::StrCat(R"({"i":)", i, "}");
    }
    auto r = node_->Append("orders-1", ESDB_EXPECT_ANY, events);
    ASSERT_TRUE(r.ok());
    last_user_position_ = r->position;
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  std::unique_ptr<Library> lib_;
  std::filesystem::path dir_;
  uint64_t last_user_position_ = 0;
};

TEST_F(ApiTest, CreateInspectAndList) {
  auto r = Call("POST", "/connectors/orders", FileSettings(R"(,"logging:enabled":"true")"));
  ASSERT_EQ(r.status, 201) << r.body;
  json j = Body(r);
  EXPECT_EQ(j["connectorId"], "orders");
  EXPECT_EQ(j["state"], "STOPPED");
  EXPECT_EQ(j["instanceTypeName"], "file-sink");
  EXPECT_EQ(j["ignoredSettings"], json::array({"logging:enabled"}));

  auto one = Body(Call("GET", "/connectors/orders"));
  EXPECT_EQ(one["settings"]["path"], (dir_ / "out.jsonl").string());
  EXPECT_TRUE(one["errorDetails"].is_null());

  ASSERT_EQ(Call("POST", "/connectors/other", R"({"instanceTypeName":"null-sink"})").status, 201);
  auto list = Body(Call("GET", "/connectors"));
  EXPECT_EQ(list["total"], 2);
  EXPECT_EQ(list["items"][0]["connectorId"], "orders");
  EXPECT_TRUE(list["items"][0].contains("stateUpdateTime"));
  EXPECT_TRUE(list["items"][0].contains("position"));
  EXPECT_TRUE(list["items"][0].contains("errorDetails"));
  EXPECT_EQ(Body(Call("GET", "/connectors?instanceTypeName=null-sink"))["total"], 1);
  EXPECT_EQ(Body(Call("GET", "/connectors?state=RUNNING"))["total"], 0);
  auto page = Body(Call("GET", "/connectors?skip=1&take=1"));
  EXPECT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["connectorId"], "other");
  ExpectError(Call("GET", "/connectors?take=0"), 400, "take");
}

TEST_F(ApiTest, CreateRejectsBadInputWithoutWritingAnything) {
  ExpectError(Call("POST", "/connectors/x", "{not json"), 400, "not valid JSON");
  ExpectError(Call("POST", "/connectors/x", "[1,2]"), 400, "JSON object");
  ExpectError(Call("POST", "/connectors/x", ""), 400, "JSON object");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"nope-sink"})"), 400,
              "instanceTypeName");
  ExpectError(Call("POST", "/connectors/x",
                   R"({"instanceTypeName":"null-sink","subscription:filter:filterType":"regex",
                       "subscription:filter:expression":"(["})"),
              400, "subscription:filter:expression");
  ExpectError(
      Call("POST", "/connectors/x", R"({"instanceTypeName":"null-sink","batching:foo":"1"})"), 400,
      "batching:foo");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"file-sink"})"), 400, "path");
  // Several writes in flight only for a sink that declares it can take them.
  ExpectError(Call("POST", "/connectors/x",
                   R"({"instanceTypeName":"null-sink","batching:maxInFlight":"4"})"),
              400, "null-sink");
  ExpectError(Call("POST", "/connectors/x",
                   R"({"instanceTypeName":"null-sink","batching:maxInFlight":"65"})"),
              400, "batching:maxInFlight");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"null-sink","colour":"red"})"),
              400, "colour");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"null-sink"})", "text/plain"),
              415, "Content-Type");
  ExpectError(
      Call("POST", "/connectors/" + std::string(101, 'a'), R"({"instanceTypeName":"null-sink"})"),
      400, "at most 100");
  ExpectError(Call("POST", "/connectors/bad%20id", R"({"instanceTypeName":"null-sink"})"), 400,
              "may only contain");
  std::string huge =
      absl::StrCat(R"({"instanceTypeName":"null-sink","x":")", std::string(2 << 20, 'a'), "\"}");
  EXPECT_EQ(Call("POST", "/connectors/x", huge).status, 413);
  EXPECT_EQ(Body(Call("GET", "/connectors"))["total"], 0);
  EXPECT_EQ(Call("GET", "/connectors/x").status, 404);
  EXPECT_FALSE(node_->ReadStream("$connectors/x", devnode::ReadDirection::kForwards, 0, 10).ok());
}

TEST_F(ApiTest, DuplicateCreateIsAConflict) {
  ASSERT_EQ(Call("POST", "/connectors/c", R"({"instanceTypeName":"null-sink"})").status, 201);
  ExpectError(Call("POST", "/connectors/c", R"({"instanceTypeName":"null-sink"})"), 409,
              "already exists");
}

TEST_F(ApiTest, LifecycleThroughTheRoutesDelivers) {
  AppendEvents(20);
  ASSERT_EQ(Call("POST", "/connectors/c", FileSettings()).status, 201);
  auto enabled = Call("POST", "/connectors/c/enable");
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  ASSERT_TRUE(WaitForState("c", "RUNNING"));
  ExpectError(Call("POST", "/connectors/c/start"), 409, "RUNNING");
  ExpectError(Call("POST", "/connectors/c/reset"), 409, "disable it");
  ExpectError(Call("DELETE", "/connectors/c"), 409, "disable it");
  for (int i = 0; i < 2000 && OutputLines() < 20; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(OutputLines(), 20u);

  // The delivered position follows the sink's acknowledgements, ahead of any checkpoint; it
  // moves just after the file was written, so wait for it.
  json running;
  for (int i = 0; i < 2000; ++i) {
    running = Body(Call("GET", "/connectors/c"));
    if (running["deliveredPosition"] == last_user_position_) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(running["deliveredPosition"], last_user_position_);
  EXPECT_EQ(running["host"], "devnode");
  EXPECT_EQ(running["runningHere"], true);

  ASSERT_EQ(Call("POST", "/connectors/c/stop").status, 200);
  ASSERT_TRUE(WaitForState("c", "STOPPED"));
  auto stopped = Body(Call("GET", "/connectors/c"));
  // The final checkpoint covers every user event; the lag left is the connector's own writes.
  EXPECT_GE(stopped["position"].get<uint64_t>(), last_user_position_);
  EXPECT_LE(stopped["lag"].get<uint64_t>(), 10u);
  // Stopping a stopped connector does nothing, as in KurrentDB.
  auto again = Call("POST", "/connectors/c/disable");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Body(again)["revision"], stopped["revision"]);

  // Reset to the start and enable again: everything is delivered a second time.
  ASSERT_EQ(Call("POST", "/connectors/c/reset/0").status, 200);
  ASSERT_EQ(Call("POST", "/connectors/c/enable").status, 200);
  for (int i = 0; i < 2000 && OutputLines() < 40; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(OutputLines(), 40u);
  ASSERT_EQ(Call("POST", "/connectors/c/disable").status, 200);
  ASSERT_TRUE(WaitForState("c", "STOPPED"));
  ASSERT_EQ(Call("DELETE", "/connectors/c").status, 200);
  EXPECT_EQ(Call("GET", "/connectors/c").status, 404);
  EXPECT_EQ(Call("POST", "/connectors/c/enable").status, 404);
}

TEST_F(ApiTest, BadPositionsAndUnknownConnectors) {
  ASSERT_EQ(Call("POST", "/connectors/c", R"({"instanceTypeName":"null-sink"})").status, 201);
  ExpectError(Call("POST", "/connectors/c/reset/minus-one"), 400, "not a log position");
  ExpectError(Call("POST", "/connectors/c/enable/x"), 400, "not a log position");
  ExpectError(Call("POST", "/connectors/ghost/enable"), 404, "does not exist");
  ExpectError(Call("DELETE", "/connectors/ghost"), 404, "does not exist");
  ExpectError(Call("GET", "/connectors/ghost/settings"), 404, "does not exist");
}

TEST_F(ApiTest, SettingsReadAndReplace) {
  ASSERT_EQ(Call("POST", "/connectors/c", FileSettings()).status, 201);
  auto got = Body(Call("GET", "/connectors/c/settings"));
  EXPECT_EQ(got["settings"]["instanceTypeName"], "file-sink");
  EXPECT_FALSE(got["settingsUpdateTime"].get<std::string>().empty());
  // The body is the settings map itself, as in the shipping product.
  auto put = Call("PUT", "/connectors/c/settings",
                  absl::StrCat(R"({"instanceTypeName":"file-sink","path":")",
                               (dir_ / "b.jsonl").string(), R"(","fsync":"false"})"));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Body(Call("GET", "/connectors/c/settings"))["settings"]["fsync"], "false");
  ExpectError(
      Call("PUT", "/connectors/c/settings", R"({"instanceTypeName":"file-sink","fsync":"maybe"})"),
      400, "fsync");
  EXPECT_EQ(Body(Call("GET", "/connectors/c/settings"))["settings"]["fsync"], "false");
}

TEST_F(ApiTest, RoutesAndMethods) {
  ExpectError(Call("GET", "/nothing"), 404, "no route");
  ExpectError(Call("POST", "/connectors/c/explode"), 404, "no route");
  auto r = Call("PATCH", "/connectors/c");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Call("GET", "/connectors/c/enable").status, 405);
  EXPECT_EQ(Call("DELETE", "/connectors").status, 405);
}

// Dead letters are written here as a runner writes them (delivery/dead_letters.h); the failure
// policy tests make them for real.
TEST_F(ApiTest, DeadLettersAreReadByAnyUserAndReplayedByOperators) {
  ASSERT_EQ(Call("POST", "/connectors/c1", FileSettings()).status, 201);
  NodeClient client(node_->api());
  DeadLetterWriter writer(&client, DeadLetterStream("c1"));
  for (int i = 0; i < 3; ++i) {
    Record r;
    r.stream = "orders-1";
    r.revision = i;
    r.position = {100u + i, 100u + i};
    r.event_id = "0c7d2f4e-1b2a-4c3d-9e8f-10203040506" + std::to_string(i);
    r.event_type = "Placed";
    r.content_type = "application/json";
    r.data = absl::StrCat(R"({"i":)", i, "}");
    r.metadata = R"({"by":"me"})";
    ASSERT_TRUE(writer.Append(MakeDeadLetter(r, {"c1", 0, 0, "h", "400 Bad Request", 1, 5})).ok());
  }
  Record other;
  other.position = {200, 200};
  other.event_type = "Placed";
  ASSERT_TRUE(writer.Append(MakeDeadLetter(other, {"c2", 0, 0, "h", "x", 1, 5})).ok());
  EventData delivered = MakeReplayOutcome({"c1", 0, 1, 0, true, ""}, "h");
  ASSERT_TRUE(client
                  .Append(DeadLetterStream("c1"), ESDB_EXPECT_ANY,
                          std::span<const EventData>(&delivered, 1))
                  .ok());

  caller_ = User("reader", {"readers"});
  ApiResponse r = Call("GET", "/connectors/c1/dead-letters");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  EXPECT_EQ(j["stream"], "$connectors/c1/dead-letters");
  EXPECT_EQ(j["total"], 3);
  EXPECT_EQ(j["replayed"], 1);
  EXPECT_EQ(j["pending"], 2);
  ASSERT_EQ(j["items"].size(), 2u);
  const json& first = j["items"][0];
  EXPECT_EQ(first["position"], 101);
  EXPECT_EQ(first["stream"], "orders-1");
  EXPECT_EQ(first["revision"], 1);
  EXPECT_EQ(first["eventType"], "Placed");
  EXPECT_EQ(first["data"], json::parse(R"({"i":1})"));
  EXPECT_EQ(first["metadata"], json::parse(R"({"by":"me"})"));
  EXPECT_EQ(first["error"], "400 Bad Request");
  EXPECT_EQ(first["attempts"], 1);
  EXPECT_EQ(first["deadLetterRevision"], 1);
  json page = Body(Call("GET", "/connectors/c1/dead-letters?skip=1&take=1"));
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["position"], 102);
  ExpectError(Call("GET", "/connectors/c1/dead-letters?take=0"), 400, "take");
  ExpectError(Call("GET", "/connectors/c1/dead-letters?skip=1&skip=2"), 400, "skip");
  ExpectError(Call("GET", "/connectors/c1/dead-letters?limit=5"), 400, "limit");
  ExpectError(Call("GET", "/connectors/nope/dead-letters"), 404, "does not exist");
  EXPECT_EQ(Call("GET", "/connectors/c1/dead-letters/replay").status, 405);
  // The view names the stream; no runner counted any (they were written by hand).
  json view = Body(Call("GET", "/connectors/c1"));
  EXPECT_EQ(view["deadLetters"]["stream"], "$connectors/c1/dead-letters");
  EXPECT_EQ(view["deadLetters"]["count"], 0);
  EXPECT_TRUE(view["deadLetters"]["lastError"].is_null());
  ExpectError(Call("POST", "/connectors/c1/dead-letters/replay"), 403, "user 'reader'");
  ExpectError(Call("POST", "/connectors/c1/restart"), 403, "user 'reader'");

  caller_ = User("ops", {"$ops"});
  EXPECT_EQ(Call("DELETE", "/connectors/c1/dead-letters").status, 405);
  ExpectError(Call("POST", "/connectors/c1/dead-letters/replay", "", "application/json",
                   {"http://evil.example", "127.0.0.1:2114"}),
              403, "cross-origin");
  ExpectError(Call("POST", "/connectors/c1/dead-letters/replay"), 409, "start");
  ExpectError(Call("POST", "/connectors/c1/restart"), 409, "enable it");
  ASSERT_EQ(Call("POST", "/connectors/c1/enable").status, 200);
  r = Call("POST", "/connectors/c1/dead-letters/replay");
  ASSERT_EQ(r.status, 202) << r.body;
  // The runner is replaced and sends the two pending ones to the file, then records it.
  for (int i = 0; i < 2000 && Body(Call("GET", "/connectors/c1/dead-letters"))["pending"] != 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  j = Body(Call("GET", "/connectors/c1/dead-letters"));
  EXPECT_EQ(j["pending"], 0) << j.dump();
  EXPECT_EQ(j["replayed"], 3);
  EXPECT_EQ(OutputLines(), 2u);
  EXPECT_THAT(StoredBytes("c1"), HasSubstr(R"(ConnectorDeadLetterReplayRequested{"by":"ops"})"));
}

TEST_F(ApiTest, PluginsAreListedWithTheirSettings) {
  auto r = Call("GET", "/connector-plugins");
  ASSERT_EQ(r.status, 200);
  json plugins = Body(r);
  bool found = false;
  for (auto& p : plugins) {
    if (p["name"] != "file-sink") continue;
    found = true;
    EXPECT_FALSE(p["version"].get<std::string>().empty());
    bool has_path = false;
    for (auto& s : p["settings"]) has_path |= s["name"] == "path" && s["required"] == true;
    EXPECT_TRUE(has_path);
  }
  EXPECT_TRUE(found) << r.body;
}

TEST_F(ApiTest, RefusedPluginsAreListedWithTheReason) {
  const std::filesystem::path plugins = dir_ / "plugins";
  std::filesystem::create_directories(plugins);
  std::filesystem::copy_file(std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_null.so",
                             plugins / "libesdb_sink_null.so");
  std::filesystem::copy_file(std::string(ESDB_TESTDATA_PLUGIN_DIR) + "/libesdb_sink_newer_abi.so",
                             plugins / "libesdb_sink_newer_abi.so");
  plugins_dir_ = plugins.string();
  StartLibrary(key_file_);
  auto r = Call("GET", "/connector-plugins");
  ASSERT_EQ(r.status, 200);
  json list = Body(r);
  ASSERT_EQ(list.size(), 3u) << r.body;
  EXPECT_EQ(list[0]["kind"], "host");
  EXPECT_EQ(list[1]["name"], "null-sink");
  EXPECT_EQ(list[1]["loaded"], true);
  EXPECT_EQ(list[1]["file"], (plugins / "libesdb_sink_null.so").string());
  EXPECT_EQ(list[2]["name"], "");
  EXPECT_EQ(list[2]["loaded"], false);
  EXPECT_EQ(list[2]["file"], (plugins / "libesdb_sink_newer_abi.so").string());
  EXPECT_THAT(list[2]["error"].get<std::string>(),
              HasSubstr("needs a host with sink ABI version 2 or newer"));
  EXPECT_TRUE(list[2]["settings"].empty());
}

// The host's own keys are listed as the first entry, from the table that validates them: what it
// says a key takes is what a create accepts.
TEST_F(ApiTest, TheHostsOwnSettingsAreTheFirstEntryAndWhatValidationApplies) {
  json list = Body(Call("GET", "/connector-plugins"));
  ASSERT_FALSE(list.empty());
  const json& host = list[0];
  EXPECT_EQ(host["kind"], "host");
  EXPECT_EQ(host["name"], "host");
  std::map<std::string, json> by_name;
  for (const json& s : host["settings"]) by_name[s["name"].get<std::string>()] = s;
  EXPECT_EQ(by_name.size(), HostSettings().size());
  const json& batch = by_name["batching:batchSize"];
  EXPECT_EQ(batch["type"], "int");
  EXPECT_EQ(batch["default"], "100");
  EXPECT_FALSE(batch.contains("ignored"));
  const int64_t maximum = batch["maximum"].get<int64_t>();
  EXPECT_EQ(by_name["affinity"]["values"], json({"leader", "follower", "readOnlyReplica"}));
  EXPECT_EQ(by_name["logging:"]["ignored"], true);

  auto create = [&](int64_t batch_size) {
    return Call("POST", "/connectors/hosted",
                json({{"settings",
                       {{"instanceTypeName", "null-sink"},
                        {"batching:batchSize", std::to_string(batch_size)}}}})
                    .dump());
  };
  auto refused = create(maximum + 1);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("batching:batchSize"));
  EXPECT_EQ(create(maximum).status, 201);
}

TEST_F(ApiTest, AFailingSinkShowsFailedWithDetails) {
  // A file path that cannot be opened (a folder): open() fails and the connector goes to FAILED.
  std::filesystem::create_directories(dir_ / "a-folder");
  ASSERT_EQ(
      Call("POST", "/connectors/c", R"({"instanceTypeName":"file-sink","path":"a-folder"})").status,
      201);
  ASSERT_EQ(Call("POST", "/connectors/c/enable").status, 200);
  ASSERT_TRUE(WaitForState("c", "FAILED"));
  auto j = Body(Call("GET", "/connectors/c"));
  EXPECT_FALSE(j["errorDetails"]["message"].get<std::string>().empty());
  EXPECT_EQ(j["errorDetails"]["code"], "connector-failed");
  EXPECT_FALSE(j["errorDetails"]["time"].get<std::string>().empty());
  EXPECT_EQ(Body(Call("GET", "/connectors?state=FAILED"))["total"], 1);
  // KurrentDB has no FAILED: its failed connectors are stopped, with error details.
  EXPECT_EQ(Body(Call("GET", "/connectors?state=CONNECTOR_STATE_STOPPED"))["totalSize"], 1);
  EXPECT_EQ(Body(Call("GET", "/connectors?state=CONNECTOR_STATE_FAILED"))["totalSize"], 0);
}

TEST_F(ApiTest, MetricsArePrometheusText) {
  AppendEvents(5);
  ASSERT_EQ(Call("POST", "/connectors/c", FileSettings()).status, 201);
  ASSERT_EQ(Call("POST", "/connectors/c/enable").status, 200);
  // The counter moves just after the sink acknowledged the batch: wait for it, not for the file.
  const std::string delivered = "esdb_connector_records_delivered_total{connector=\"c\"} 5";
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text = lib_->api().RenderMetrics();
    if (text.find(delivered) != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(text, HasSubstr("# TYPE esdb_connector_records_delivered_total counter"));
  EXPECT_THAT(text, HasSubstr("esdb_connector_records_delivered_total{connector=\"c\"} 5"));
  EXPECT_THAT(
      text, HasSubstr("esdb_connector_write_latency_seconds_bucket{connector=\"c\",le=\"+Inf\"}"));
  EXPECT_THAT(text, HasSubstr("esdb_connector_running{connector=\"c\"} 1"));
  // Nothing waits for the sink once every event is delivered.
  EXPECT_THAT(text, HasSubstr("esdb_connector_queued_bytes{connector=\"c\"} 0"));
}

TEST_F(ApiTest, AnonymousCallersMustAuthenticate) {
  caller_ = Caller{};
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/connectors"},
                                                        {"GET", "/connector-plugins"},
                                                        {"POST", "/connectors/c1"},
                                                        {"DELETE", "/connectors/c1"},
                                                        {"GET", "/no/such/route"}}) {
    ApiResponse r = Call(method, path, method == "POST" ? FileSettings() : "");
    ExpectError(r, 401, "credentials are required");
    ASSERT_EQ(r.headers.size(), 1u) << method << " " << path;
    EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
    EXPECT_THAT(r.headers[0].second, HasSubstr("Basic"));
  }
  caller_ = User("ops", {"$ops"});
  EXPECT_EQ(Call("GET", "/connectors/c1").status, 404);  // nothing was created
}

TEST_F(ApiTest, PlainUsersReadButOnlyAdminsAndOpsChange) {
  caller_ = User("admin", {"$admins"});
  ASSERT_EQ(Call("POST", "/connectors/c1", FileSettings()).status, 201);
  caller_ = User("reader", {"readers"});
  EXPECT_EQ(Call("GET", "/connectors/c1").status, 200);
  EXPECT_EQ(Call("GET", "/connectors/c1/settings").status, 200);
  EXPECT_EQ(Call("GET", "/connectors").status, 200);
  EXPECT_EQ(Call("GET", "/connector-plugins").status, 200);
  ExpectError(Call("POST", "/connectors/c1/enable"), 403, "needs membership of $admins or $ops");
  ExpectError(Call("PUT", "/connectors/c1/settings", FileSettings()), 403, "user 'reader'");
  ExpectError(Call("DELETE", "/connectors/c1"), 403, "$ops");
  ExpectError(Call("POST", "/connectors/c2", FileSettings()), 403, "$admins");
  caller_ = User("ops", {"$ops"});
  EXPECT_EQ(Call("GET", "/connectors/c2").status, 404);
  EXPECT_EQ(Call("DELETE", "/connectors/c1").status, 200);
  // --insecure hosts: no checks, as before.
  caller_ = Caller{Caller::Kind::kInsecure};
  EXPECT_EQ(Call("POST", "/connectors/c3", FileSettings()).status, 201);
}

TEST_F(ApiTest, CrossSiteRequestsAreRefused) {
  const Headers other{"http://evil.example", "127.0.0.1:2114"};
  ExpectError(Call("POST", "/connectors/c1", FileSettings(), "application/json", other), 403,
              "cross-origin");
  ExpectError(Call("POST", "/connectors/c1", FileSettings(), "application/json",
                   {"null", "127.0.0.1:2114"}),
              403, "cross-origin");
  EXPECT_EQ(Call("GET", "/connectors/c1").status, 404);
  // The same site may (default ports need not be spelled out); reads are never refused.
  EXPECT_EQ(Call("POST", "/connectors/c1", FileSettings(), "application/json",
                 {"http://127.0.0.1:2114", "127.0.0.1:2114"})
                .status,
            201);
  EXPECT_EQ(Call("GET", "/connectors/c1", "", "", other).status, 200);
  EXPECT_EQ(
      Call("POST", "/connectors/c1/enable", "", "", {"https://Node.Example", "node.example:443"})
          .status,
      200);
  ExpectError(Call("POST", "/connectors/c1/disable", "", "", other), 403, "evil.example");
}

TEST_F(ApiTest, BodiesMustBeJsonExactly) {
  // What a cross-site form or fetch without preflight can send.
  for (const char* type : {"text/plain; charset=json", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonx", ""}) {
    ExpectError(Call("POST", "/connectors/c1", FileSettings(), type), 415, "application/json");
  }
  ASSERT_EQ(
      Call("POST", "/connectors/c1", FileSettings(), "Application/JSON; charset=utf-8").status,
      201);
  // Action routes take no form body either, even an empty one announced as a form.
  ExpectError(Call("POST", "/connectors/c1/enable", "", "application/x-www-form-urlencoded"), 415,
              "application/json");
  ExpectError(Call("POST", "/connectors/c1/enable", "a=b", "text/plain"), 415, "text/plain");
  EXPECT_EQ(Call("POST", "/connectors/c1/enable", "{}").status, 200);
}

// http-sink settings with a password and a credential header; nothing listens at the url.
std::string HttpSettings(const std::string& url, const std::string& password) {
  return json{{"settings",
               {{"instanceTypeName", "http-sink"},
                {"url", url},
                {"authentication:method", "basic"},
                {"authentication:basic:username", "u"},
                {"authentication:basic:password", password},
                {"defaultHeaders:X-Api-Key", "k3y-v4lue-secret"}}}}
      .dump();
}

TEST_F(ApiTest, SecretsAreStoredSealedAndNeverShown) {
  ASSERT_EQ(
      Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw")).status,
      201);
  const std::string stored = StoredBytes("s1");
  ASSERT_THAT(stored, HasSubstr("ConnectorCreated"));
  EXPECT_THAT(stored, ::testing::Not(HasSubstr("hunter2-pw")));
  EXPECT_THAT(stored, ::testing::Not(HasSubstr("k3y-v4lue-secret")));
  for (const char* path : {"/connectors/s1", "/connectors/s1/settings", "/connectors"}) {
    ApiResponse r = Call("GET", path);
    EXPECT_EQ(r.status, 200);
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("hunter2-pw"))) << path;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("k3y-v4lue"))) << path;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr("sealed:"))) << path;
  }
  json settings = Body(Call("GET", "/connectors/s1/settings"))["settings"];
  EXPECT_EQ(settings["authentication:basic:password"], "******");
  EXPECT_EQ(settings["defaultHeaders:X-Api-Key"], "******");  // secret by its name
  EXPECT_EQ(settings["url"], "http://127.0.0.1:9/in");
}

TEST_F(ApiTest, AKeptSecretCannotFollowANewDestination) {
  ASSERT_EQ(
      Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw")).status,
      201);
  // Same destination, password sent back redacted: kept.
  EXPECT_EQ(Call("PUT", "/connectors/s1/settings", HttpSettings("http://127.0.0.1:9/in", "******"))
                .status,
            200);
  // A new url with the redacted password: refused, it must be given again.
  ExpectError(
      Call("PUT", "/connectors/s1/settings", HttpSettings("http://attacker.example/in", "******")),
      400, "url changes, so the secret");
  EXPECT_EQ(
      Call("PUT", "/connectors/s1/settings", HttpSettings("http://attacker.example/in", "a-new-pw"))
          .status,
      200);
  EXPECT_THAT(StoredBytes("s1"), ::testing::Not(HasSubstr("a-new-pw")));
}

TEST_F(ApiTest, WithoutAMasterKeySecretsAreRefusedNotStoredInClear) {
  StartLibrary("");
  ApiResponse r = Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "pw"));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("--secrets-key-file"));
  EXPECT_EQ(Call("GET", "/connectors/s1").status, 404);
  EXPECT_EQ(StoredBytes("s1"), "");
}

TEST_F(ApiTest, RotatingTheMasterKeyKeepsConnectorsWorkingWithoutTheOldKey) {
  ASSERT_EQ(
      Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw")).status,
      201);
  const std::string new_key = (dir_ / "new.key").string();
  ASSERT_TRUE(secrets::CreateMasterKeyFileIfMissing(new_key).ok());
  auto new_id = secrets::LoadMasterKey(new_key)->id;
  StartLibrary(new_key, key_file_);  // rotation: the old key only unwraps
  EXPECT_THAT(StoredBytes("s1"), HasSubstr("ConnectorDataKeyRewrapped"));
  EXPECT_THAT(StoredBytes("s1"), HasSubstr(new_id));
  StartLibrary(new_key);  // the old key is gone for good
  // The secret still opens: a kept password with the same url is accepted and stays sealed.
  ApiResponse r =
      Call("PUT", "/connectors/s1/settings", HttpSettings("http://127.0.0.1:9/in", "******"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(StoredBytes("s1"), ::testing::Not(HasSubstr("hunter2-pw")));
  // Without the new key the old one alone cannot read it, and says which key it needs.
  StartLibrary(key_file_);
  ExpectError(
      Call("PUT", "/connectors/s1/settings", HttpSettings("http://127.0.0.1:9/in", "******")), 409,
      new_id);
}

// --- KurrentDB 26 parity: bodies, routes, list filters and fields as its operators use them.

// The ids of a list response's items, in order.
std::vector<std::string> Ids(const json& list) {
  std::vector<std::string> out;
  for (const json& item : list["items"]) out.push_back(item["connectorId"]);
  return out;
}

TEST_F(ApiTest, CreateTakesKurrentDbsBodyWithAName) {
  auto r = Call("POST", "/connectors/orders",
                json{{"name", "Orders to file"},
                     {"settings", {{"instanceTypeName", "null-sink"}, {"logging:enabled", "true"}}}}
                    .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["name"], "Orders to file");
  EXPECT_EQ(Body(r)["ignoredSettings"], json::array({"logging:enabled"}));
  EXPECT_EQ(Body(Call("GET", "/connectors/orders"))["name"], "Orders to file");
  EXPECT_EQ(Body(Call("GET", "/connectors"))["items"][0]["name"], "Orders to file");
  EXPECT_THAT(StoredBytes("orders"), HasSubstr(R"("name":"Orders to file")"));
  // Without a name (or with a blank one) the id stands for it, and nothing is stored.
  ASSERT_EQ(Call("POST", "/connectors/unnamed", R"({"settings":{"instanceTypeName":"null-sink"}})")
                .status,
            201);
  EXPECT_EQ(Body(Call("GET", "/connectors/unnamed"))["name"], "unnamed");
  EXPECT_THAT(StoredBytes("unnamed"), ::testing::Not(HasSubstr("name\"")));
  ASSERT_EQ(Call("POST", "/connectors/blank",
                 R"({"name":"  ","settings":{"instanceTypeName":"null-sink"}})")
                .status,
            201);
  EXPECT_EQ(Body(Call("GET", "/connectors/blank"))["name"], "blank");
  // The body names what is wrong, and nothing is written.
  ExpectError(
      Call("POST", "/connectors/x", R"({"name":"ab","settings":{"instanceTypeName":"null-sink"}})"),
      400, "name must be 3 to 50 characters");
  ExpectError(
      Call("POST", "/connectors/x", R"({"name":7,"settings":{"instanceTypeName":"null-sink"}})"),
      400, "name must be a string");
  ExpectError(Call("POST", "/connectors/x",
                   R"({"settings":{"instanceTypeName":"null-sink"},"colour":"red"})"),
              400, "unknown field 'colour'");
  ExpectError(Call("POST", "/connectors/x",
                   R"({"connectorId":"y","settings":{"instanceTypeName":"null-sink"}})"),
              400, "connectorId");
  ExpectError(Call("POST", "/connectors/x", R"({"name":"Good name","settings":{}})"), 400,
              "instanceTypeName");
  EXPECT_EQ(Call("GET", "/connectors/x").status, 404);
  EXPECT_EQ(StoredBytes("x"), "");
  // connectorId in the body is fine when it is the path's.
  EXPECT_EQ(Call("POST", "/connectors/same",
                 R"({"connectorId":"same","settings":{"instanceTypeName":"null-sink"}})")
                .status,
            201);
}

TEST_F(ApiTest, CreateAndReconfigureTakeANestedConfiguration) {
  const std::string out = (dir_ / "out.jsonl").string();
  json configuration = {
      {"instanceTypeName", "file-sink"},
      {"path", out},
      {"fsync", false},
      {"subscription",
       {{"filter", {{"scope", "stream"}, {"filterType", "prefix"}, {"expression", "orders-"}}},
        {"initialPosition", "earliest"}}},
      {"autocommit", {{"interval", 50}, {"recordsThreshold", nullptr}}}};
  // A non-empty configuration wins over settings, as in KurrentDB.
  auto r = Call("POST", "/connectors/nested",
                json{{"name", "Nested one"},
                     {"configuration", configuration},
                     {"settings", {{"instanceTypeName", "null-sink"}}}}
                    .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  json flat = Body(Call("GET", "/connectors/nested/settings"))["settings"];
  EXPECT_EQ(flat["instanceTypeName"], "file-sink");
  EXPECT_EQ(flat["subscription:filter:expression"], "orders-");
  EXPECT_EQ(flat["autocommit:interval"], "50");
  EXPECT_EQ(flat["fsync"], "false");
  EXPECT_FALSE(flat.contains("autocommit:recordsThreshold"));  // null: left out

  // The nested view: numbers and booleans as JSON, the update time beside it.
  auto got = Call("GET", "/connectors/nested/configuration");
  ASSERT_EQ(got.status, 200) << got.body;
  json view = Body(got);
  EXPECT_EQ(view["configuration"]["subscription"]["filter"]["expression"], "orders-");
  EXPECT_EQ(view["configuration"]["autocommit"]["interval"], 50);
  EXPECT_EQ(view["configuration"]["fsync"], false);
  EXPECT_EQ(view["configuration"]["path"], out);
  EXPECT_EQ(view["configurationUpdateTime"],
            Body(Call("GET", "/connectors/nested/settings"))["settingsUpdateTime"]);

  // PUT .../configuration takes the object itself, or wrapped.
  configuration["autocommit"]["interval"] = 75;
  auto put = Call("PUT", "/connectors/nested/configuration", configuration.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Body(Call("GET", "/connectors/nested/settings"))["settings"]["autocommit:interval"],
            "75");
  configuration["autocommit"]["interval"] = 80;
  put = Call("PUT", "/connectors/nested/configuration",
             json{{"configuration", configuration}}.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(
      Body(Call("GET",
                "/connectors/nested/configuration"))["configuration"]["autocommit"]["interval"],
      80);
  // Arrays become indexed keys, checked like any other key.
  configuration["label"] = json::array({"a", "b"});
  ExpectError(Call("PUT", "/connectors/nested/configuration", configuration.dump()), 400,
              "label:0");
  ExpectError(Call("PUT", "/connectors/nested/configuration", "[]"), 400, "JSON object");
  ExpectError(Call("POST", "/connectors/nested/configuration", configuration.dump()), 405,
              "GET, PUT");
  ExpectError(Call("GET", "/connectors/ghost/configuration"), 404, "does not exist");
}

TEST_F(ApiTest, TheConfigurationViewRedactsSecretsLikeTheSettingsView) {
  ASSERT_EQ(
      Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw")).status,
      201);
  ApiResponse got = Call("GET", "/connectors/s1/configuration");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_THAT(got.body, ::testing::Not(HasSubstr("hunter2-pw")));
  EXPECT_THAT(got.body, ::testing::Not(HasSubstr("k3y-v4lue")));
  EXPECT_THAT(got.body, ::testing::Not(HasSubstr("sealed:")));
  json configuration = Body(got)["configuration"];
  EXPECT_EQ(configuration["authentication"]["basic"]["password"], "******");
  EXPECT_EQ(configuration["defaultHeaders"]["X-Api-Key"], "******");
  EXPECT_EQ(configuration["url"], "http://127.0.0.1:9/in");
  ApiResponse listed = Call("GET", "/connectors?includeConfiguration=true&includeSettings=true");
  EXPECT_THAT(listed.body, ::testing::Not(HasSubstr("hunter2-pw")));
  EXPECT_EQ(Body(listed)["items"][0]["configuration"]["authentication"]["basic"]["password"],
            "******");
  EXPECT_EQ(Body(listed)["items"][0]["settings"]["authentication:basic:password"], "******");
  // The view sent back keeps the secret; with a new destination the secret must be given again.
  EXPECT_EQ(Call("PUT", "/connectors/s1/configuration", configuration.dump()).status, 200);
  EXPECT_THAT(StoredBytes("s1"), ::testing::Not(HasSubstr("hunter2-pw")));
  configuration["url"] = "http://attacker.example/in";
  ExpectError(Call("PUT", "/connectors/s1/configuration", configuration.dump()), 400,
              "url changes, so the secret");
}

TEST_F(ApiTest, RenameChangesOnlyTheName) {
  ASSERT_EQ(Call("POST", "/connectors/orders",
                 R"({"name":"Old name","settings":{"instanceTypeName":"null-sink"}})")
                .status,
            201);
  auto r = Call("PUT", "/connectors/orders/rename", R"({"name":"New name"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["name"], "New name");
  EXPECT_EQ(Body(r)["state"], "STOPPED");
  json one = Body(Call("GET", "/connectors/orders"));
  EXPECT_EQ(one["name"], "New name");
  EXPECT_EQ(one["settings"]["instanceTypeName"], "null-sink");
  EXPECT_THAT(StoredBytes("orders"), HasSubstr("ConnectorRenamed"));
  // The same name again writes nothing.
  auto same = Call("PUT", "/connectors/orders/rename", R"({"name":"New name"})");
  ASSERT_EQ(same.status, 200);
  EXPECT_EQ(Body(same)["revision"], one["revision"]);
  // Bad bodies name the field; nothing changes.
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":"no"})"), 400, "3 to 50");
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":""})"), 400, "3 to 50");
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({})"), 400, "name is required");
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":["x"]})"), 400,
              "name is required");
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":"Fine name","x":1})"), 400,
              "unknown field 'x'");
  ExpectError(Call("PUT", "/connectors/orders/rename", ""), 400, "JSON object");
  ExpectError(Call("POST", "/connectors/orders/rename", R"({"name":"New name"})"), 405, "PUT");
  ExpectError(Call("PUT", "/connectors/ghost/rename", R"({"name":"New name"})"), 404,
              "does not exist");
  // The security rules of every change hold.
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":"Other name"})", "text/plain"),
              415, "application/json");
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":"Other name"})",
                   "application/json", {"http://evil.example", "127.0.0.1:2114"}),
              403, "cross-origin");
  caller_ = User("reader", {"readers"});
  ExpectError(Call("PUT", "/connectors/orders/rename", R"({"name":"Other name"})"), 403, "$ops");
  caller_ = User("ops", {"$ops"});
  EXPECT_EQ(Body(Call("GET", "/connectors/orders"))["name"], "New name");
  // A running connector can be renamed too.
  ASSERT_EQ(Call("POST", "/connectors/orders/start").status, 200);
  EXPECT_EQ(Call("PUT", "/connectors/orders/rename", R"({"name":"Running name"})").status, 200);
}

TEST_F(ApiTest, ListFiltersAndPagesAsKurrentDbDocumentsThem) {
  for (const char* id : {"a-null", "b-file", "c-null"}) {
    std::string type = absl::StrContains(id, "file") ? "file-sink" : "null-sink";
    std::string extra =
        type == "file-sink" ? absl::StrCat(R"(,"path":")", (dir_ / "b.jsonl").string(), "\"") : "";
    ASSERT_EQ(Call("POST", absl::StrCat("/connectors/", id),
                   absl::StrCat(R"({"settings":{"instanceTypeName":")", type, "\"", extra, "}}"))
                  .status,
              201);
  }
  ASSERT_EQ(Call("POST", "/connectors/c-null/start").status, 200);  // ACTIVATING, then RUNNING
  ASSERT_TRUE(WaitForState("c-null", "RUNNING"));
  auto ids = [&](const std::string& query) {
    ApiResponse r = Call("GET", "/connectors" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    return Ids(Body(r));
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(""), (V{"a-null", "b-file", "c-null"}));
  // Repeated parameters, KurrentDB's state names and its numbers, proto spellings.
  EXPECT_EQ(ids("?state=CONNECTOR_STATE_RUNNING"), V{"c-null"});
  EXPECT_EQ(ids("?state=CONNECTOR_STATE_STOPPED&state=CONNECTOR_STATE_RUNNING"),
            (V{"a-null", "b-file", "c-null"}));
  EXPECT_EQ(ids("?state=4"), (V{"a-null", "b-file"}));
  EXPECT_EQ(ids("?state=running,activating"), V{"c-null"});
  EXPECT_EQ(ids("?state=CONNECTOR_STATE_UNKNOWN"), V{});
  EXPECT_EQ(ids("?instanceTypeName=null-sink"), (V{"a-null", "c-null"}));
  EXPECT_EQ(ids("?instanceTypeName=file-sink&instanceTypeName=null-sink"),
            (V{"a-null", "b-file", "c-null"}));
  EXPECT_EQ(ids("?instance_type_name=file-sink"), V{"b-file"});
  EXPECT_EQ(ids("?connectorId=c-null&connectorId=a-null"), (V{"a-null", "c-null"}));
  EXPECT_EQ(ids("?connector_id=b-file&instanceTypeName=null-sink"), V{});
  EXPECT_EQ(ids("?host=devnode"), V{"c-null"});
  // Settings (and the nested configuration) only when asked for.
  json plain = Body(Call("GET", "/connectors"));
  EXPECT_FALSE(plain["items"][0].contains("settings"));
  EXPECT_FALSE(plain["items"][0].contains("configuration"));
  json with = Body(Call("GET", "/connectors?includeSettings=true&connectorId=b-file"));
  EXPECT_EQ(with["items"][0]["settings"]["instanceTypeName"], "file-sink");
  EXPECT_FALSE(with["items"][0].contains("configuration"));
  json nested = Body(Call("GET", "/connectors?include_configuration=true&connectorId=b-file"));
  EXPECT_EQ(nested["items"][0]["configuration"]["instanceTypeName"], "file-sink");
  EXPECT_FALSE(nested["items"][0]["configurationUpdateTime"].get<std::string>().empty());
  EXPECT_EQ(Body(Call("GET", "/connectors?includeSettings=false"))["items"][0].contains("settings"),
            false);
  // Pages: page 2 of size 1 is the second match; totalSize counts every match.
  json page = Body(Call("GET", "/connectors?page=2&pageSize=1"));
  EXPECT_EQ(Ids(page), V{"b-file"});
  EXPECT_EQ(page["totalSize"], 3);
  EXPECT_EQ(page["skip"], 1);
  EXPECT_EQ(page["take"], 1);
  EXPECT_EQ(ids("?paging.page=3&paging.pageSize=1"), V{"c-null"});
  EXPECT_EQ(ids("?page=4&pageSize=1"), V{});
  EXPECT_EQ(ids("?pageSize=2"), (V{"a-null", "b-file"}));
  EXPECT_EQ(ids("?page=2"), V{});  // pages of 100
  EXPECT_EQ(
      Body(Call("GET", "/connectors?page=2&pageSize=1&instanceTypeName=null-sink"))["totalSize"],
      2);
  ExpectError(Call("GET", "/connectors?page=0"), 400, "page must be a whole number from 1");
  ExpectError(Call("GET", "/connectors?pageSize=101"), 400,
              "pageSize must be a whole number from 1 to 100");
  ExpectError(Call("GET", "/connectors?pageSize=x"), 400, "pageSize");
  ExpectError(Call("GET", "/connectors?page=1&skip=1"), 400, "cannot be combined");
  ExpectError(Call("GET", "/connectors?page=1&paging.page=2"), 400, "more than once");
  ExpectError(Call("GET", "/connectors?includeSettings=yes"), 400,
              "includeSettings must be true or false");
  ExpectError(Call("GET", "/connectors?pagesize=1"), 400, "unknown query parameter 'pagesize'");
  ExpectError(Call("GET", "/connectors?instanceTypeName=null%2"), 400,
              "query parameter: truncated percent-escape");
}

TEST_F(ApiTest, PostListTakesTheFilterInItsBodyAndCreatesNothing) {
  for (const char* id : {"a-one", "b-two", "c-three"}) {
    ASSERT_EQ(Call("POST", absl::StrCat("/connectors/", id), R"({"instanceTypeName":"null-sink"})")
                  .status,
              201);
  }
  auto r = Call("POST", "/connectors/list",
                R"({"state":["CONNECTOR_STATE_STOPPED"],"instanceTypeName":["null-sink"],
                    "connectorId":["a-one","c-three"],"includeSettings":true,
                    "paging":{"page":2,"pageSize":1}})");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Body(r);
  EXPECT_EQ(Ids(j), std::vector<std::string>{"c-three"});
  EXPECT_EQ(j["totalSize"], 2);
  EXPECT_EQ(j["items"][0]["settings"]["instanceTypeName"], "null-sink");
  // Every filter form KurrentDB's clients send: proto names, numbers, nulls, the sample's
  // instanceType; an empty body lists everything.
  EXPECT_EQ(Ids(Body(Call("POST", "/connectors/list",
                          R"({"connector_id":["b-two"],"state":[4],"instanceType":["null-sink"],
                              "show_deleted":null,"paging":null})"))),
            std::vector<std::string>{"b-two"});
  EXPECT_EQ(Body(Call("POST", "/connectors/list", ""))["totalSize"], 3);
  EXPECT_EQ(Body(Call("POST", "/connectors/list", "{}"))["totalSize"], 3);
  // GET /connectors with the same body, as KurrentDB 26.0 documented it.
  EXPECT_EQ(Ids(Body(Call("GET", "/connectors", R"({"connectorId":["a-one"]})"))),
            std::vector<std::string>{"a-one"});
  ExpectError(Call("GET", "/connectors?state=RUNNING", R"({"connectorId":["a-one"]})"), 400,
              "not both");
  // Bad filters name the field.
  ExpectError(Call("POST", "/connectors/list", R"({"state":"RUNNING","colour":"red"})"), 400,
              "unknown field 'colour'");
  ExpectError(Call("POST", "/connectors/list", R"({"paging":{"page":1,"size":5}})"), 400,
              "paging.size");
  ExpectError(Call("POST", "/connectors/list", R"({"paging":{"pageSize":500}})"), 400, "pageSize");
  ExpectError(Call("POST", "/connectors/list", R"({"includeSettings":"yes"})"), 400,
              "includeSettings must be true or false");
  ExpectError(Call("POST", "/connectors/list", R"({"connectorId":[1]})"), 400, "connectorId");
  ExpectError(Call("POST", "/connectors/list", R"([1])"), 400, "JSON object");
  ExpectError(Call("POST", "/connectors/list", R"({"settings":{"instanceTypeName":"null-sink"}})"),
              400, "unknown field 'settings'");
  ExpectError(Call("POST", "/connectors/list", "{}", "text/plain"), 415, "application/json");
  // A create sent to the list route never made a connector named "list".
  EXPECT_EQ(Body(Call("GET", "/connectors"))["totalSize"], 3);
  EXPECT_EQ(StoredBytes("list"), "");
  // It is a read: any user may list this way.
  caller_ = User("reader", {"readers"});
  EXPECT_EQ(Call("POST", "/connectors/list", "{}").status, 200);
  caller_ = Caller{};
  ExpectError(Call("POST", "/connectors/list", "{}"), 401, "credentials");
}

TEST_F(ApiTest, ReservedWordsAreNoConnectorIds) {
  for (const char* id : {"list", "LIST", "start", "settings", "configuration", "rename", "reset"}) {
    ApiResponse r =
        Call(id == std::string("list") ? "PUT" : "POST", absl::StrCat("/connectors/", id),
             R"({"settings":{"instanceTypeName":"null-sink"}})");
    if (id == std::string("list")) {
      ExpectError(r, 405, "POST");  // /connectors/list is the list route
      continue;
    }
    ExpectError(r, 400, "is reserved");
    EXPECT_EQ(StoredBytes(id), "") << id;
  }
  ExpectError(Call("GET", "/connectors/list"), 405, "POST");
  ExpectError(Call("DELETE", "/connectors/list"), 405, "POST");
  EXPECT_EQ(Body(Call("GET", "/connectors"))["totalSize"], 0);
  // Ids that merely contain a reserved word are fine.
  EXPECT_EQ(Call("POST", "/connectors/list-2", R"({"instanceTypeName":"null-sink"})").status, 201);
}

TEST_F(ApiTest, ShowDeletedListsDeletedConnectors) {
  ASSERT_EQ(Call("POST", "/connectors/gone",
                 R"({"name":"Gone one","settings":{"instanceTypeName":"null-sink"}})")
                .status,
            201);
  ASSERT_EQ(Call("POST", "/connectors/kept", R"({"instanceTypeName":"null-sink"})").status, 201);
  ASSERT_EQ(Call("DELETE", "/connectors/gone").status, 200);
  EXPECT_EQ(Ids(Body(Call("GET", "/connectors"))), std::vector<std::string>{"kept"});
  json all = Body(Call("GET", "/connectors?showDeleted=true&includeSettings=true"));
  ASSERT_EQ(Ids(all), (std::vector<std::string>{"gone", "kept"}));
  const json& gone = all["items"][0];
  EXPECT_EQ(gone["state"], "DELETED");
  EXPECT_EQ(gone["name"], "Gone one");
  EXPECT_TRUE(gone["deleteTime"].is_string());
  EXPECT_FALSE(gone["deleteTime"].get<std::string>().empty());
  EXPECT_EQ(gone["settings"]["instanceTypeName"], "null-sink");
  EXPECT_TRUE(all["items"][1]["deleteTime"].is_null());
  EXPECT_EQ(Ids(Body(Call("GET", "/connectors?showDeleted=true&state=DELETED"))),
            std::vector<std::string>{"gone"});
  EXPECT_EQ(Ids(Body(Call("GET", "/connectors?state=DELETED"))), std::vector<std::string>{});
  // KurrentDB's deleted connectors are stopped ones.
  EXPECT_EQ(Body(Call("POST", "/connectors/list",
                      R"({"showDeleted":true,"state":["CONNECTOR_STATE_STOPPED"]})"))["totalSize"],
            2);
  // Still 404 one by one; created again, it is a new connector without the old name.
  EXPECT_EQ(Call("GET", "/connectors/gone").status, 404);
  ASSERT_EQ(Call("POST", "/connectors/gone", R"({"instanceTypeName":"null-sink"})").status, 201);
  json again = Body(Call("GET", "/connectors?showDeleted=true&connectorId=gone"));
  EXPECT_EQ(again["items"][0]["state"], "STOPPED");
  EXPECT_EQ(again["items"][0]["name"], "gone");
  EXPECT_TRUE(again["items"][0]["deleteTime"].is_null());
}

TEST_F(ApiTest, ItemsCarryKurrentDbsFieldsAndTimes) {
  ASSERT_EQ(Call("POST", "/connectors/c", R"({"instanceTypeName":"null-sink"})").status, 201);
  json item = Body(Call("GET", "/connectors"))["items"][0];
  for (const char* field : {"connectorId", "instanceTypeName", "name", "state", "stateUpdateTime",
                            "settingsUpdateTime", "position", "positionUpdateTime", "createTime",
                            "updateTime", "deleteTime", "errorDetails"}) {
    EXPECT_TRUE(item.contains(field)) << field << " in " << item.dump();
  }
  EXPECT_FALSE(item["createTime"].get<std::string>().empty());
  EXPECT_EQ(item["createTime"], item["stateUpdateTime"]);
  EXPECT_TRUE(item["position"].is_null());
  EXPECT_TRUE(item["positionUpdateTime"].is_null());
  // A reset without a position goes back to the start of the log, as KurrentDB documents.
  auto reset = Call("POST", "/connectors/c/reset");
  ASSERT_EQ(reset.status, 200) << reset.body;
  json after = Body(reset);
  EXPECT_EQ(after["position"], 0);
  EXPECT_TRUE(after["positionUpdateTime"].is_string());
  EXPECT_GE(after["positionUpdateTime"].get<std::string>(), item["createTime"].get<std::string>());
  EXPECT_GE(after["updateTime"].get<std::string>(), item["updateTime"].get<std::string>());
  EXPECT_EQ(after["createTime"], item["createTime"]);
  ASSERT_EQ(Call("POST", "/connectors/c/reset/7").status, 200);
  EXPECT_EQ(Body(Call("GET", "/connectors/c"))["position"], 7);
}

// --- The pure parts: configuration nesting and list filters.

TEST(ConfigurationTest, FlattensAsKurrentDbDoes) {
  auto flat = FlattenConfiguration(json::parse(
      R"({"a":{"b":"x","n":5,"f":1.5,"t":true},"hosts":["h1",{"port":9}],"gone":null})"));
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(*flat, (SettingsMap{{"a:b", "x"},
                                {"a:n", "5"},
                                {"a:f", "1.5"},
                                {"a:t", "true"},
                                {"hosts:0", "h1"},
                                {"hosts:1:port", "9"}}));
  EXPECT_THAT(std::string(FlattenConfiguration(json::parse(R"({"a":{"":1}})")).status().message()),
              HasSubstr("empty key under 'a'"));
  EXPECT_FALSE(FlattenConfiguration(json::array()).ok());
  json deep = "x";
  for (int i = 0; i < 40; ++i) deep = json{{"k", deep}};
  EXPECT_THAT(std::string(FlattenConfiguration(deep).status().message()), HasSubstr("nested"));
}

TEST(ConfigurationTest, NestsWithoutLosingAnything) {
  json flat = {{"a:b", "x"},      {"a:n", "5"},     {"a:zero", "05"}, {"a:f", "1.50"},
               {"a:e", "1e5"},    {"a:neg", "-2"},  {"a:t", "TRUE"},  {"hosts:0", "h1"},
               {"hosts:1", "h2"}, {"gaps:0", "g0"}, {"gaps:2", "g2"}, {"both", "v"},
               {"both:x", "y"},   {"empty", ""},    {"p", "******"}};
  json nested = NestSettings(flat);
  EXPECT_EQ(nested["a"]["b"], "x");
  EXPECT_EQ(nested["a"]["n"], 5);
  EXPECT_EQ(nested["a"]["zero"], "05");
  EXPECT_EQ(nested["a"]["f"], "1.50");
  EXPECT_EQ(nested["a"]["e"], "1e5");
  EXPECT_EQ(nested["a"]["neg"], -2);
  EXPECT_EQ(nested["a"]["t"], true);
  EXPECT_EQ(nested["hosts"], json::array({"h1", "h2"}));
  EXPECT_EQ(nested["gaps"], (json{{"0", "g0"}, {"2", "g2"}}));  // not 0..n-1: an object
  EXPECT_EQ(nested["both"], (json{{"x", "y"}}));
  EXPECT_EQ(nested["empty"], "");
  EXPECT_EQ(nested["p"], "******");
  EXPECT_TRUE(NestSettings(json::object()).is_object());
  EXPECT_TRUE(NestSettings(json{{"0", "a"}}).is_object());  // the top is always an object
  // Round trip: what the view shows, flattened again, is what was stored (but booleans).
  json plain = {{"a:b", "x"}, {"a:n", "5"}, {"hosts:0", "h1"}, {"hosts:1", "h2"}, {"z", "05"}};
  auto back = FlattenConfiguration(NestSettings(plain));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(json(*back), plain);
  // A key with more ':' than the depth limit stays bounded: the rest is one key.
  std::string key = "k";
  for (int i = 0; i < 100; ++i) key += ":k";
  json deep = NestSettings(json{{key, "v"}});
  size_t depth = 0;
  for (const json* j = &deep; j->is_object(); j = &j->begin().value()) ++depth;
  EXPECT_EQ(depth, kMaxRequestJsonDepth);
  EXPECT_TRUE(FlattenConfiguration(deep).ok());  // and it can be sent back
}

TEST(ListQueryTest, ReadsEveryNameAndChecksEveryValue) {
  auto q = ListQueryFromUrl(
      "state=CONNECTOR_STATE_RUNNING&state=stopped,failed&instanceTypeName=a&instance_type_name=b"
      "&connectorId=x&includeSettings=TRUE&show_deleted=true&paging.page=3&paging.pageSize=10");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->states, (std::vector<std::string>{"CONNECTOR_STATE_RUNNING", "STOPPED", "FAILED"}));
  EXPECT_EQ(q->instance_types, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q->connector_ids, std::vector<std::string>{"x"});
  EXPECT_TRUE(q->include_settings);
  EXPECT_TRUE(q->show_deleted);
  EXPECT_FALSE(q->include_configuration);
  EXPECT_EQ(q->skip, 20);
  EXPECT_EQ(q->take, 10);
  auto defaults = ListQueryFromUrl("");
  EXPECT_EQ(defaults->skip, 0);
  EXPECT_EQ(defaults->take, 100);
  EXPECT_EQ(ListQueryFromUrl("skip=5&take=1000")->take, 1000);
  EXPECT_FALSE(ListQueryFromUrl("take=1001").ok());
  EXPECT_FALSE(ListQueryFromUrl("pageSize=0").ok());
  EXPECT_FALSE(ListQueryFromUrl("page=2147483648").ok());
  EXPECT_FALSE(ListQueryFromUrl("showDeleted=true&show_deleted=false").ok());
  EXPECT_FALSE(ListQueryFromUrl("paging=1").ok());

  auto body = ListQueryFromJson(json::parse(
      R"({"state":[2,"RUNNING"],"instanceTypeName":"one","includeConfiguration":true,
          "paging":{"page_size":5}})"));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->states, (std::vector<std::string>{"CONNECTOR_STATE_RUNNING", "RUNNING"}));
  EXPECT_EQ(body->instance_types, std::vector<std::string>{"one"});
  EXPECT_TRUE(body->include_configuration);
  EXPECT_EQ(body->take, 5);
  EXPECT_FALSE(ListQueryFromJson(json::parse(R"({"paging.page":1})")).ok());
  EXPECT_FALSE(ListQueryFromJson(json::parse(R"({"paging":{"page":"1"}})")).ok());
  EXPECT_FALSE(ListQueryFromJson(json::parse(R"({"state":[true]})")).ok());
}

TEST(ListQueryTest, KurrentDbStatesMeanWhatKurrentDbMeans) {
  EXPECT_TRUE(StateFilterMatches("RUNNING", "RUNNING"));
  EXPECT_TRUE(StateFilterMatches("running", "RUNNING"));
  EXPECT_FALSE(StateFilterMatches("STOPPED", "FAILED"));
  EXPECT_TRUE(StateFilterMatches("CONNECTOR_STATE_RUNNING", "RUNNING"));
  EXPECT_TRUE(StateFilterMatches("connector_state_activating", "ACTIVATING"));
  for (const char* state : {"STOPPED", "FAILED", "DELETED"}) {
    EXPECT_TRUE(StateFilterMatches("CONNECTOR_STATE_STOPPED", state)) << state;
  }
  EXPECT_FALSE(StateFilterMatches("CONNECTOR_STATE_STOPPED", "RUNNING"));
  EXPECT_FALSE(StateFilterMatches("CONNECTOR_STATE_FAILED", "FAILED"));
  EXPECT_FALSE(StateFilterMatches("CONNECTOR_STATE_UNKNOWN", "STOPPED"));
  EXPECT_FALSE(StateFilterMatches("NONSENSE", "STOPPED"));
}

// The connector streams read through the node table, for the whole process (the table's
// functions carry no pointer of the test's own).
absl::Mutex reads_mu;
std::vector<std::string> connector_stream_reads ABSL_GUARDED_BY(reads_mu);
const esdb_node_api* counted_inner = nullptr;
esdb_node_status CountedReadStream(void* ctx, const char* stream, int32_t direction, uint64_t from,
                                   uint64_t max, esdb_read_event_fn on_event, void* user, char* err,
                                   size_t err_size) {
  if (absl::StartsWith(stream, "$connectors/")) {
    absl::MutexLock lock(&reads_mu);
    connector_stream_reads.push_back(stream);
  }
  return counted_inner->read_stream(ctx, stream, direction, from, max, on_event, user, err,
                                    err_size);
}

// What one management call reads does not grow with the number of connectors: the list reads no
// connector stream (the registry follows them), and a call on one connector reads only that
// connector's streams, never all of them.
TEST(ApiScaleTest, CallsReadNoOtherConnectorsStreams) {
  auto node = devnode::LogNode::InMemory();
  counted_inner = node->api();
  esdb_node_api api = *node->api();
  api.read_stream = &CountedReadStream;
  LibraryConfig config;
  config.plugins_dir = ESDB_PLUGIN_DIR;
  auto lib = Library::Start(&api, config);
  ASSERT_TRUE(lib.ok()) << lib.status();
  auto call = [&](std::string method, std::string path, std::string body = "") {
    ApiRequest r;
    r.caller = Caller{Caller::Kind::kUser, "ops", {"$ops"}};
    r.method = std::move(method);
    if (auto q = path.find('?'); q != std::string::npos) {
      r.query = path.substr(q + 1);
      path.resize(q);
    }
    r.path = std::move(path);
    r.body = std::move(body);
    if (!r.body.empty()) r.content_type = "application/json";
    return (*lib)->api().Handle(r);
  };
  // The connector streams `method path` read.
  auto reads_of = [&](const std::string& method, const std::string& path,
                      const std::string& body = "") {
    {
      absl::MutexLock lock(&reads_mu);
      connector_stream_reads.clear();
    }
    ApiResponse r = call(method, path, body);
    EXPECT_EQ(r.status / 100, 2) << method << " " << path << ": " << r.body;
    absl::MutexLock lock(&reads_mu);
    return connector_stream_reads;
  };
  const std::string settings = R"({"settings":{"instanceTypeName":"null-sink"}})";
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(call("POST", absl::StrCat("/connectors/c", i), settings).status, 201);
  }
  // Once the registry has followed the creates, a list of them all reads nothing.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<std::string> list_reads;
  while (!(list_reads = reads_of("GET", "/connectors?take=1000")).empty() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(list_reads.empty()) << list_reads.size() << " reads, first " << list_reads.front();
  EXPECT_EQ(json::parse(call("GET", "/connectors?take=1000").body)["items"].size(), 200u);

  const std::string id = "c7";
  for (auto [method, path, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/connectors/" + id, ""},
           {"GET", "/connectors/" + id + "/settings", ""},
           {"PUT", "/connectors/" + id + "/rename", R"({"name":"renamed"})"},
           {"POST", "/connectors/" + id + "/enable", ""},
           {"POST", "/connectors/" + id + "/disable", ""}}) {
    std::vector<std::string> reads = reads_of(method, path, body);
    EXPECT_LE(reads.size(), 8u) << method << " " << path;
    for (const std::string& stream : reads) {
      EXPECT_TRUE(stream == "$connectors/" + id || stream == "$connectors/" + id + "/checkpoints")
          << method << " " << path << " read " << stream;
    }
  }
}

}  // namespace
}  // namespace esdb
