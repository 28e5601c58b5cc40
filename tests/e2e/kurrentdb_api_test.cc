// An operator's session with the management API of a real, secure dev node, written the way
// KurrentDB 26's documentation of connectors writes its calls (docs/server/features/connectors/
// manage.md and the management protos): create with a nested configuration and a name, rename,
// list with every filter and paging form (query string, POST /connectors/list, the 26.0 GET with
// a body), start at a position, stop, reset, reconfigure, delete and list what was deleted.
// Every status and every field the operator relies on is checked, and the file sink's output
// shows that the positions meant what KurrentDB says they mean.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "node_process.h"
#include "sink_output.h"
#include "test_certs.h"

namespace esdb::e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kStream[] = "orders-1";

class KurrentDbApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto certs = MakeTestCerts(dir_.path() / "certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    auto users =
        MakeUsersFile(dir_.path(), {{"ops", "ops-pw", {"$ops"}}, {"reader", "reader-pw", {}}});
    ASSERT_TRUE(users.ok()) << users.status();
    NodeOptions options;
    options.data_dir = dir_.path() / "node";
    options.insecure = false;
    options.extra_args = {
        "--tls-cert-file", certs_.node_cert.string(), "--tls-key-file", certs_.node_key.string(),
        "--tls-ca-file",   certs_.ca_cert.string(),   "--users-file",   users->string()};
    node_ = std::make_unique<NodeProcess>(options);
    absl::Status started = node_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ops_ = Https("ops", "ops-pw");
    reader_ = Https("reader", "reader-pw");
  }

  void TearDown() override {
    ops_.reset();
    reader_.reset();
    if (node_ != nullptr && node_->running()) {
      auto stopped = node_->Stop();
      EXPECT_TRUE(stopped.ok() && stopped->CleanExit());
    }
    if (HasFailure() && node_ != nullptr) std::cerr << node_->Logs();
  }

  std::unique_ptr<NodeHttp> Https(const std::string& user, const std::string& password) {
    auto http = std::make_unique<NodeHttp>(node_->port(), 30000, http::ClientTls{certs_.CaPem()});
    http->SetCredentials(user, password);
    return http;
  }

  NodeHttp& ops() { return *ops_; }

  // Appends `events` to kStream; the log position of the last one.
  uint64_t Append(const std::vector<NewEvent>& events) {
    Reply r = AppendEvents(ops(), kStream, events);
    EXPECT_EQ(r.status, 201) << r.body;
    appended_.insert(appended_.end(), events.begin(), events.end());
    return r.status == 201 ? r.json["position"].get<uint64_t>() : 0;
  }

  bool WaitForState(const std::string& id, const std::string& state) {
    std::string last;
    if (WaitUntil([&] { return (last = ops().StateOf(id)) == state; }, absl::Seconds(30))) {
      return true;
    }
    ADD_FAILURE() << id << " never reached " << state << "; last '" << last << "'";
    return false;
  }

  // The connector ids of a list reply, in order.
  static std::vector<std::string> Ids(const Reply& r) {
    std::vector<std::string> out;
    if (!r.json.is_object() || !r.json.contains("items")) return out;
    for (const json& item : r.json["items"]) out.push_back(item["connectorId"]);
    return out;
  }
  std::vector<std::string> ListIds(const std::string& query) {
    Reply r = ops().Get("/connectors" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    return Ids(r);
  }

  // The file sink's records from `first` on, as event ids.
  std::vector<std::string> DeliveredIds(const std::filesystem::path& file, size_t first = 0) {
    auto out = ReadSinkOutput(file);
    EXPECT_TRUE(out.ok()) << out.status();
    std::vector<std::string> ids;
    if (!out.ok()) return ids;
    for (size_t i = first; i < out->lines.size(); ++i) ids.push_back(out->lines[i].event_id);
    return ids;
  }
  std::vector<std::string> AppendedIds(size_t from, size_t to) {
    std::vector<std::string> ids;
    for (size_t i = from; i < to; ++i) ids.push_back(appended_[i].event_id);
    return ids;
  }

  ScratchDir dir_;
  TestCerts certs_;
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<NodeHttp> ops_;
  std::unique_ptr<NodeHttp> reader_;
  std::vector<NewEvent> appended_;
};

TEST_F(KurrentDbApiTest, AnOperatorSessionFromTheProductDocumentation) {
  using V = std::vector<std::string>;
  const std::filesystem::path out = dir_.path() / "orders.jsonl";
  const uint64_t p5 = Append(MakeEvents(1, 0, 5));  // the 5th event's position
  Append(MakeEvents(1, 5, 5));
  ASSERT_EQ(appended_.size(), 10u);

  // --- create, with a name and a nested configuration (KurrentDB 26.0 and later).
  json configuration = {
      {"instanceTypeName", "file-sink"},
      {"path", out.string()},
      {"subscription",
       {{"filter", {{"scope", "stream"}, {"filterType", "prefix"}, {"expression", "orders-"}}},
        {"initialPosition", "earliest"}}},
      {"autocommit", {{"interval", 100}}}};
  Reply created =
      ops().Post("/connectors/orders-sink",
                 json{{"name", "Orders sink"}, {"configuration", configuration}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["connectorId"], "orders-sink");
  EXPECT_EQ(created.json["name"], "Orders sink");
  EXPECT_EQ(created.json["state"], "STOPPED");
  EXPECT_EQ(created.json["instanceTypeName"], "file-sink");
  // ... and the documented flat settings form, without a name.
  Reply audit = ops().Post(
      "/connectors/audit-log",
      R"({"settings":{"instanceTypeName":"null-sink","subscription:filter:scope":"stream",
                      "subscription:filter:expression":"audit-","logging:enabled":"false"}})");
  ASSERT_EQ(audit.status, 201) << audit.body;
  EXPECT_EQ(audit.json["name"], "audit-log");
  EXPECT_EQ(audit.json["ignoredSettings"], json::array({"logging:enabled"}));

  // --- the settings, flat and nested.
  Reply settings = ops().Get("/connectors/orders-sink/settings");
  ASSERT_EQ(settings.status, 200) << settings.body;
  EXPECT_EQ(settings.json["settings"]["subscription:filter:expression"], "orders-");
  EXPECT_EQ(settings.json["settings"]["autocommit:interval"], "100");
  EXPECT_FALSE(settings.json["settingsUpdateTime"].get<std::string>().empty());
  Reply nested = ops().Get("/connectors/orders-sink/configuration");
  ASSERT_EQ(nested.status, 200) << nested.body;
  EXPECT_EQ(nested.json["configuration"], configuration);  // what was sent comes back
  EXPECT_EQ(nested.json["configurationUpdateTime"], settings.json["settingsUpdateTime"]);

  // --- rename.
  Reply renamed = ops().Put("/connectors/orders-sink/rename", R"({"name":"Orders to file"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.json["name"], "Orders to file");
  Reply refused = reader_->Put("/connectors/orders-sink/rename", R"({"name":"Reader's name"})");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_TRUE(refused.IsErrorBody());

  // --- list: every item carries KurrentDB's fields.
  Reply all = ops().Get("/connectors");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(Ids(all), (V{"audit-log", "orders-sink"}));
  EXPECT_EQ(all.json["totalSize"], 2);
  for (const json& item : all.json["items"]) {
    for (const char* field : {"connectorId", "instanceTypeName", "name", "state", "stateUpdateTime",
                              "settingsUpdateTime", "position", "positionUpdateTime", "createTime",
                              "updateTime", "deleteTime", "errorDetails"}) {
      EXPECT_TRUE(item.contains(field)) << field << " missing in " << item.dump();
    }
    EXPECT_FALSE(item.contains("settings")) << item.dump();
    EXPECT_FALSE(item["createTime"].get<std::string>().empty());
    EXPECT_TRUE(item["deleteTime"].is_null());
    EXPECT_TRUE(item["errorDetails"].is_null());
  }
  EXPECT_EQ(all.json["items"][1]["name"], "Orders to file");
  // The documented filters: repeated state with KurrentDB's names, instanceTypeName, connectorId,
  // includeSettings, includeConfiguration, page and pageSize.
  Reply filtered = ops().Get(
      "/connectors?state=CONNECTOR_STATE_RUNNING&state=CONNECTOR_STATE_STOPPED"
      "&includeSettings=true");
  ASSERT_EQ(Ids(filtered), (V{"audit-log", "orders-sink"}));
  EXPECT_EQ(filtered.json["items"][0]["settings"]["instanceTypeName"], "null-sink");
  EXPECT_EQ(ListIds("?state=CONNECTOR_STATE_RUNNING"), V{});
  EXPECT_EQ(ListIds("?instanceTypeName=file-sink"), V{"orders-sink"});
  EXPECT_EQ(ListIds("?instanceTypeName=file-sink&instanceTypeName=null-sink"),
            (V{"audit-log", "orders-sink"}));
  EXPECT_EQ(ListIds("?connectorId=audit-log&connectorId=nope"), V{"audit-log"});
  Reply with_configuration =
      ops().Get("/connectors?includeConfiguration=true&connectorId=orders-sink");
  EXPECT_EQ(with_configuration.json["items"][0]["configuration"], configuration);
  Reply page1 = ops().Get("/connectors?page=1&pageSize=1");
  EXPECT_EQ(Ids(page1), V{"audit-log"});
  EXPECT_EQ(page1.json["totalSize"], 2);
  Reply page2 = ops().Get("/connectors?page=2&pageSize=1");
  EXPECT_EQ(Ids(page2), V{"orders-sink"});
  EXPECT_EQ(page2.json["totalSize"], 2);
  Reply too_big = ops().Get("/connectors?pageSize=101");
  EXPECT_EQ(too_big.status, 400) << too_big.body;
  EXPECT_THAT(too_big.json.value("message", ""), HasSubstr("pageSize"));
  // POST /connectors/list with the filter as JSON, for clients that cannot repeat parameters;
  // a reader may use it, and it never creates a connector named "list".
  const std::string filter =
      R"({"state":["CONNECTOR_STATE_STOPPED"],"instanceTypeName":["file-sink","null-sink"],
          "connectorId":["orders-sink"],"includeSettings":true,"paging":{"page":1,"pageSize":10}})";
  Reply posted = reader_->Post("/connectors/list", filter);
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(Ids(posted), V{"orders-sink"});
  EXPECT_EQ(posted.json["items"][0]["settings"]["path"], out.string());
  // The same body on GET /connectors, as KurrentDB 26.0's documentation sent it.
  Reply get_with_body = ops().Call("GET", "/connectors", filter, "application/json");
  EXPECT_EQ(Ids(get_with_body), V{"orders-sink"});
  Reply not_a_create =
      ops().Post("/connectors/list", R"({"settings":{"instanceTypeName":"null-sink"}})");
  EXPECT_EQ(not_a_create.status, 400) << not_a_create.body;
  EXPECT_EQ(ops().Get("/connectors").json["totalSize"], 2);
  Reply reserved =
      ops().Post("/connectors/start", R"({"settings":{"instanceTypeName":"null-sink"}})");
  EXPECT_EQ(reserved.status, 400) << reserved.body;
  EXPECT_THAT(reserved.json.value("message", ""), HasSubstr("reserved"));

  // --- start at a position: delivery begins right after it.
  Reply started = ops().Post(absl::StrCat("/connectors/orders-sink/start/", p5));
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(started.json["position"], p5);
  EXPECT_TRUE(started.json["positionUpdateTime"].is_string());
  ASSERT_TRUE(WaitForState("orders-sink", "RUNNING"));
  EXPECT_EQ(ListIds("?state=CONNECTOR_STATE_RUNNING"), V{"orders-sink"});
  ASSERT_TRUE(WaitUntil([&] { return CountCompleteLines(out) >= 5; }, absl::Seconds(30)));
  EXPECT_EQ(DeliveredIds(out), AppendedIds(5, 10));
  Reply twice = ops().Post("/connectors/orders-sink/start");
  EXPECT_EQ(twice.status, 409) << twice.body;

  // --- stop (twice: the second does nothing, as in KurrentDB).
  Reply stopped = ops().Post("/connectors/orders-sink/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  ASSERT_TRUE(WaitForState("orders-sink", "STOPPED"));
  Reply stopped_again = ops().Post("/connectors/orders-sink/stop");
  EXPECT_EQ(stopped_again.status, 200) << stopped_again.body;
  EXPECT_EQ(stopped_again.json["state"], "STOPPED");
  Reply after_stop = ops().Connector("orders-sink");
  EXPECT_GE(after_stop.json["position"].get<uint64_t>(), p5 + 5);
  EXPECT_TRUE(after_stop.json["positionUpdateTime"].is_string());

  // --- reset without a position: back to the beginning, so the next start delivers everything.
  Reply reset = ops().Post("/connectors/orders-sink/reset");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.json["position"], 0);
  EXPECT_EQ(reset.json["state"], "STOPPED");
  ASSERT_EQ(ops().Post("/connectors/orders-sink/start").status, 200);
  ASSERT_TRUE(WaitUntil([&] { return CountCompleteLines(out) >= 15; }, absl::Seconds(30)));
  EXPECT_EQ(DeliveredIds(out, 5), AppendedIds(0, 10));
  ASSERT_EQ(ops().Post("/connectors/orders-sink/stop").status, 200);
  ASSERT_TRUE(WaitForState("orders-sink", "STOPPED"));

  // --- reconfigure: the documented flat body on .../settings, the nested one on
  // .../configuration.
  Reply reconfigured = ops().Put("/connectors/orders-sink/settings",
                                 json{{"instanceTypeName", "file-sink"},
                                      {"path", out.string()},
                                      {"subscription:filter:scope", "stream"},
                                      {"subscription:filter:filterType", "prefix"},
                                      {"subscription:filter:expression", "orders-"},
                                      {"logging:enabled", "false"}}
                                     .dump());
  ASSERT_EQ(reconfigured.status, 200) << reconfigured.body;
  EXPECT_EQ(reconfigured.json["ignoredSettings"], json::array({"logging:enabled"}));
  EXPECT_FALSE(reconfigured.json["settings"].contains("autocommit:interval"));
  configuration["autocommit"]["interval"] = 250;
  Reply reconfigured_nested =
      ops().Put("/connectors/orders-sink/configuration", configuration.dump());
  ASSERT_EQ(reconfigured_nested.status, 200) << reconfigured_nested.body;
  EXPECT_EQ(ops().Get("/connectors/orders-sink/configuration").json["configuration"],
            configuration);
  EXPECT_EQ(ops().Get("/connectors/orders-sink/settings").json["settings"]["autocommit:interval"],
            "250");
  EXPECT_EQ(ops().Connector("orders-sink").json["name"], "Orders to file");  // kept

  // --- delete, and list what was deleted.
  Reply deleted = ops().Delete("/connectors/orders-sink");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(ops().Connector("orders-sink").status, 404);
  EXPECT_EQ(ListIds(""), V{"audit-log"});
  Reply shown = ops().Get("/connectors?showDeleted=true");
  ASSERT_EQ(Ids(shown), (V{"audit-log", "orders-sink"}));
  const json& gone = shown.json["items"][1];
  EXPECT_EQ(gone["state"], "DELETED");
  EXPECT_EQ(gone["name"], "Orders to file");
  EXPECT_TRUE(gone["deleteTime"].is_string());
  EXPECT_GE(gone["deleteTime"].get<std::string>(), gone["createTime"].get<std::string>());
  Reply shown_posted =
      ops().Post("/connectors/list", R"({"showDeleted":true,"state":["DELETED"]})");
  EXPECT_EQ(Ids(shown_posted), V{"orders-sink"});
  // Nothing the operator read ever held a sealed or clear secret, and every error was JSON.
  EXPECT_THAT(shown.body, Not(HasSubstr("sealed:")));
}

}  // namespace
}  // namespace esdb::e2e
