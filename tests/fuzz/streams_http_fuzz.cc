// The dev node's own HTTP routes (devnode/streams_http.h) on whole requests against an
// in-memory log node: the classic stream API's append (JSON in, events stored) and read (events
// out as JSON), health, info and metrics. Several requests in a row share the node, so what one
// request appends another reads back.
//
// Input: requests separated by a line "%%". Each is "METHOD target" on its first line, then
// "Name: value" header lines up to an empty line, then the body. The target goes through
// http::ParseTarget as the server does; one it refuses never reaches the routes.
//
// Properties: every answer has a known status (never 500), a JSON body when it says JSON, the
// {"error","message"} shape on errors; an append answered 201 can be read back.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "devnode/log_node.h"
#include "devnode/streams_http.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_request.h"
#include "nlohmann/json.hpp"

namespace {

using esdb::http::Request;
using esdb::http::Response;

// As the server calls a handler: an exception becomes a 500 (http/server.h).
Response Serve(esdb::devnode::LogNode& node, const Request& request) {
  try {
    return esdb::devnode::HandleNodeRoute(node, request,
                                          [] { return std::string("# library metrics\n"); });
  } catch (const std::exception& e) {
    Response response;
    response.status = 500;
    response.body = nlohmann::json({{"error", "internal"}, {"message", e.what()}}).dump();
    return response;
  }
}

void Check(const Request& request, const Response& response) {
  static constexpr int kKnown[] = {200, 201, 204, 400, 404, 405, 410, 415};
  FUZZ_CHECK(std::find(std::begin(kKnown), std::end(kKnown), response.status) != std::end(kKnown),
             "%s %s answered %d: %s", request.method.c_str(), request.path.c_str(), response.status,
             response.body.c_str());
  if (response.content_type != "application/json") return;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  FUZZ_CHECK(!body.is_discarded(), "not JSON: %s", response.body.c_str());
  if (response.status >= 400) {
    FUZZ_CHECK(body.is_object() && body.contains("error") && body.contains("message"),
               "error without error/message: %s", response.body.c_str());
  }
}

// After a 201, the stream reads back and holds the event the answer names.
void CheckReadBack(esdb::devnode::LogNode& node, const Response& appended) {
  nlohmann::json answer = nlohmann::json::parse(appended.body);
  const std::string stream = answer["streamId"].get<std::string>();
  Request read;
  read.method = "GET";
  read.path = "/streams/" + stream;
  read.query = "direction=backwards&count=1";
  Response response = Serve(node, read);
  Check(read, response);
  FUZZ_CHECK(response.status == 200, "appended to '%s' but reading it answered %d: %s",
             stream.c_str(), response.status, response.body.c_str());
  nlohmann::json events = nlohmann::json::parse(response.body)["events"];
  FUZZ_CHECK(events.size() == 1 && events[0]["eventNumber"] == answer["eventNumber"],
             "the last event read is not the one appended: %s", response.body.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<esdb::devnode::LogNode> node = esdb::devnode::LogNode::InMemory();
  for (std::string_view text : esdb::fuzz::Split(esdb::fuzz::AsText(data, size), "\n%%\n")) {
    std::optional<Request> request = esdb::fuzz::DecodeRequest(text);
    if (!request) continue;
    Response response = Serve(*node, *request);
    Check(*request, response);
    if (response.status == 201) CheckReadBack(*node, response);
  }
  node->Shutdown();
  return 0;
}
