// Every management route's success and error cases, through a whole library instance over the
// in-memory node and the real plugins.
#include "management/api.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "library/library.h"
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
           absl::StrCat("esdb-api-test-", getpid(), "-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
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
    config.plugins_dir = ESDB_PLUGIN_DIR;
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
    auto events = node_->ReadStream("$connectors/" + id, devnode::ReadDirection::kForwards, 0,
                                    1000);
    std::string all;
    if (events.ok()) {
      for (const auto& e : *events) absl::StrAppend(&all, e.event_type, e.data, e.metadata);
    }
    return all;
  }
  std::string key_file_;
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
    return absl::StrCat(R"({"settings":{"instanceTypeName":"file-sink","path":")",
                        (dir_ / "out.jsonl").string(),
                        R"(","subscription:initialPosition":"earliest","autocommit:interval":"50")",
                        extra, "}}");
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
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"null-sink","batching:foo":"1"})"),
              400, "batching:foo");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"file-sink"})"), 400, "path");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"null-sink","colour":"red"})"),
              400, "colour");
  ExpectError(Call("POST", "/connectors/x", R"({"instanceTypeName":"null-sink"})", "text/plain"),
              415, "Content-Type");
  ExpectError(Call("POST", "/connectors/" + std::string(101, 'a'), R"({"instanceTypeName":"null-sink"})"),
              400, "at most 100");
  ExpectError(Call("POST", "/connectors/bad%20id", R"({"instanceTypeName":"null-sink"})"), 400,
              "may only contain");
  std::string huge = absl::StrCat(R"({"instanceTypeName":"null-sink","x":")",
                                  std::string(2 << 20, 'a'), "\"}");
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
  ExpectError(Call("POST", "/connectors/c/disable"), 409, "STOPPED");

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
  ExpectError(Call("PUT", "/connectors/c/settings", R"({"instanceTypeName":"file-sink","fsync":"maybe"})"),
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

TEST_F(ApiTest, AFailingSinkShowsFailedWithDetails) {
  // A file path that cannot be opened (a folder): open() fails and the connector goes to FAILED.
  std::filesystem::create_directories(dir_ / "a-folder");
  ASSERT_EQ(Call("POST", "/connectors/c",
                 R"({"instanceTypeName":"file-sink","path":"a-folder"})")
                .status,
            201);
  ASSERT_EQ(Call("POST", "/connectors/c/enable").status, 200);
  ASSERT_TRUE(WaitForState("c", "FAILED"));
  auto j = Body(Call("GET", "/connectors/c"));
  EXPECT_FALSE(j["errorDetails"]["message"].get<std::string>().empty());
  EXPECT_EQ(Body(Call("GET", "/connectors?state=FAILED"))["total"], 1);
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
  EXPECT_THAT(text, HasSubstr("esdb_connector_write_latency_seconds_bucket{connector=\"c\",le=\"+Inf\"}"));
  EXPECT_THAT(text, HasSubstr("esdb_connector_running{connector=\"c\"} 1"));
}

TEST_F(ApiTest, AnonymousCallersMustAuthenticate) {
  caller_ = Caller{};
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/connectors"}, {"GET", "/connector-plugins"}, {"POST", "/connectors/c1"},
           {"DELETE", "/connectors/c1"}, {"GET", "/no/such/route"}}) {
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
  EXPECT_EQ(Call("POST", "/connectors/c1/enable", "", "",
                 {"https://Node.Example", "node.example:443"})
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
  ASSERT_EQ(Call("POST", "/connectors/c1", FileSettings(), "Application/JSON; charset=utf-8").status,
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
  ASSERT_EQ(Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw"))
                .status,
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
  ASSERT_EQ(Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw"))
                .status,
            201);
  // Same destination, password sent back redacted: kept.
  EXPECT_EQ(Call("PUT", "/connectors/s1/settings", HttpSettings("http://127.0.0.1:9/in", "******"))
                .status,
            200);
  // A new url with the redacted password: refused, it must be given again.
  ExpectError(Call("PUT", "/connectors/s1/settings",
                   HttpSettings("http://attacker.example/in", "******")),
              400, "url changes, so the secret");
  EXPECT_EQ(Call("PUT", "/connectors/s1/settings",
                 HttpSettings("http://attacker.example/in", "a-new-pw"))
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
  ASSERT_EQ(Call("POST", "/connectors/s1", HttpSettings("http://127.0.0.1:9/in", "hunter2-pw"))
                .status,
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

}  // namespace
}  // namespace esdb
