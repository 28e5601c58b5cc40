// The management API (management/api.h) on whole requests, against an in-memory node: method,
// target, Content-Type and body as a host hands them over, several requests in a row on the
// same node so that create, reconfigure, enable, reset and delete meet each other's state.
//
// Input: requests separated by a line "%%". Each is "METHOD target" on its first line, then
// header lines up to an empty line (only Content-Type counts, as for the hosts), then the body.
// The target goes through http::ParseTarget as the hosts' server does; one it refuses never
// reaches the API.
//
// The API runs with the null, logger and file sink plugins and without a supervisor, so nothing
// is ever delivered (no file is opened, whatever `path` says).
//
// Properties: every answer has a known status (never 500), a JSON body, and for errors the
// {"error","message"} shape; 405 says what is allowed. Afterwards, every listed connector can be
// read back: no request left a half-written one.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "connector/registry.h"
#include "devnode/log_node.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_request.h"
#include "management/api.h"
#include "nlohmann/json.hpp"
#include "node/node_client.h"
#include "secrets/cipher.h"
#include "secrets/key_ring.h"
#include "sinks/destination_policy.h"
#include "sinks/plugin.h"

namespace {

using esdb::ApiRequest;
using esdb::Caller;
using esdb::ApiResponse;

// Loaded once: dlopen per input would only measure the loader.
const esdb::PluginSet& Plugins() {
  static const esdb::PluginSet* plugins = [] {
    auto* set = new esdb::PluginSet();
    for (const char* name : {"null", "logger", "file"}) {
      auto plugin =
          esdb::SinkPlugin::Load(absl::StrCat(ESDB_PLUGIN_DIR, "/libesdb_sink_", name, ".so"));
      FUZZ_CHECK(plugin.ok(), "cannot load the %s sink: %s", name,
                 std::string(plugin.status().message()).c_str());
      set->Add(*std::move(plugin));
    }
    return set;
  }();
  return *plugins;
}

// The API's view of a request, with its caller: ops unless an x-fuzz-caller field says
// anonymous, reader or insecure.
std::optional<ApiRequest> Decode(std::string_view text) {
  std::optional<esdb::http::Request> http = esdb::fuzz::DecodeRequest(text);
  if (!http) return std::nullopt;
  ApiRequest request;
  request.caller = Caller{Caller::Kind::kUser, "ops", {"$ops"}};
  request.method = std::move(http->method);
  request.path = std::move(http->path);
  request.query = std::move(http->query);
  request.content_type = http->Header("Content-Type");
  request.origin = http->Header("Origin");
  request.host = http->Header("Host");
  const std::string caller = http->Header("x-fuzz-caller");
  if (caller == "anonymous") request.caller = Caller{};
  if (caller == "insecure") request.caller = Caller{Caller::Kind::kInsecure};
  if (caller == "reader") request.caller = Caller{Caller::Kind::kUser, "reader", {"readers"}};
  request.body = std::move(http->body);
  return request;
}

void CheckResponse(const ApiRequest& request, const ApiResponse& response) {
  static constexpr int kKnown[] = {200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 503};
  FUZZ_CHECK(std::find(std::begin(kKnown), std::end(kKnown), response.status) != std::end(kKnown),
             "%s %s answered %d: %s", request.method.c_str(), request.path.c_str(), response.status,
             response.body.c_str());
  FUZZ_CHECK(response.content_type == "application/json");
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  FUZZ_CHECK(!body.is_discarded(), "not JSON: %s", response.body.c_str());
  if (response.status >= 400) {
    FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].is_string() &&
                   body.contains("message") && body["message"].is_string(),
               "error without error/message: %s", response.body.c_str());
  }
  if (response.status == 405) {
    bool allow = false;
    for (const auto& [name, value] : response.headers) allow |= name == "Allow" && !value.empty();
    FUZZ_CHECK(allow, "405 without Allow");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const esdb::PluginSet& plugins = Plugins();
  std::unique_ptr<esdb::devnode::LogNode> node = esdb::devnode::LogNode::InMemory();
  esdb::NodeClient client(node->api());
  esdb::Registry registry(&client);
  FUZZ_CHECK(registry.Load().ok());
  // Secrets sealed under a key of this run; files only under a scratch folder.
  static const esdb::secrets::KeyRing keys(
      esdb::secrets::MasterKey{"fuzz", esdb::secrets::RandomKey()});
  static const esdb::DestinationPolicy destinations =
      *esdb::DestinationPolicy::Create({.files_root = "/tmp/esdb-fuzz-sink-files",
                                        .own_endpoints = {"127.0.0.1:2114"}});
  esdb::ManagementApi api(&registry, &plugins, &client, /*supervisor=*/nullptr, &keys,
                          &destinations);

  for (std::string_view text : esdb::fuzz::Split(esdb::fuzz::AsText(data, size), "\n%%\n")) {
    std::optional<ApiRequest> request = Decode(text);
    if (!request) continue;
    ApiResponse response = api.Handle(*request);
    CheckResponse(*request, response);
  }

  ApiRequest list;
  list.caller = Caller{Caller::Kind::kInsecure};
  list.method = "GET";
  list.path = "/connectors";
  list.query = "take=1000";
  ApiResponse listed = api.Handle(list);
  FUZZ_CHECK(listed.status == 200, "list answered %d: %s", listed.status, listed.body.c_str());
  const nlohmann::json items = nlohmann::json::parse(listed.body)["items"];
  for (const nlohmann::json& item : items) {
    ApiRequest get;
    get.caller = list.caller;
    get.method = "GET";
    get.path = absl::StrCat("/connectors/", item["connectorId"].get<std::string>());
    ApiResponse one = api.Handle(get);
    FUZZ_CHECK(one.status == 200, "listed %s but GET answered %d: %s", get.path.c_str(), one.status,
               one.body.c_str());
    get.path += "/settings";
    one = api.Handle(get);
    FUZZ_CHECK(one.status == 200, "listed but GET %s answered %d: %s", get.path.c_str(), one.status,
               one.body.c_str());
  }
  node->Shutdown();
  return 0;
}
