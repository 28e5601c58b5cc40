#include "node_http.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace esdb::e2e {

using nlohmann::json;

std::string Reply::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

bool Reply::IsErrorBody() const {
  return json.is_object() && json.contains("error") && json["error"].is_string() &&
         !json["error"].get<std::string>().empty() && json.contains("message") &&
         json["message"].is_string() && !json["message"].get<std::string>().empty();
}

NodeHttp::NodeHttp(uint16_t port, int timeout_ms, std::optional<http::ClientTls> tls)
    : port_(port), client_("127.0.0.1", port, timeout_ms, std::move(tls)) {}

void NodeHttp::SetCredentials(const std::string& user, const std::string& password) {
  authorization_ = absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(user, ":", password)));
}

Reply NodeHttp::Call(const std::string& method, const std::string& target, const std::string& body,
                     const std::string& content_type, const Headers& headers) {
  http::Request request;
  request.method = method;
  size_t q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) request.query = target.substr(q + 1);
  request.headers = headers;
  if (!authorization_.empty() && request.Header("Authorization").empty()) {
    request.headers.emplace_back("Authorization", authorization_);
  }
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  request.body = body;
  Reply reply;
  auto response = client_.Send(request);
  if (!response.ok()) {
    reply.body = std::string(response.status().ToString());
    reply.json = json::value_t::discarded;
    return reply;
  }
  reply.status = response->status;
  reply.content_type = response->content_type;
  reply.body = std::move(response->body);
  reply.headers = std::move(response->headers);
  reply.json = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  return reply;
}

Reply NodeHttp::Post(const std::string& target, const std::string& json_body) {
  return Call("POST", target, json_body, json_body.empty() ? "" : "application/json");
}

Reply NodeHttp::Put(const std::string& target, const std::string& json_body) {
  return Call("PUT", target, json_body, "application/json");
}

std::string NodeHttp::StateOf(const std::string& id) {
  Reply r = Connector(id);
  if (r.status != 200 || !r.json.is_object() || !r.json.contains("state")) return "";
  return r.json["state"].get<std::string>();
}

std::string TestEventId(uint32_t a, uint64_t b) {
  // 8-4-4-4-12 hex digits with the version (4) and variant (8) nibbles in place.
  return absl::StrFormat("%08x-%04x-4%03x-8%03x-%012x", a, (b >> 60) & 0xf, (b >> 48) & 0xfff,
                         (b >> 36) & 0xfff, b & 0xffffffffffffULL);
}

std::vector<NewEvent> MakeEvents(uint32_t tag, uint64_t first, int count, const std::string& type) {
  std::vector<NewEvent> events;
  for (int i = 0; i < count; ++i) {
    uint64_t n = first + static_cast<uint64_t>(i);
    events.push_back({TestEventId(tag, n), type, json{{"n", n}}});
  }
  return events;
}

std::string EventsBody(const std::vector<NewEvent>& events) {
  json body = json::array();
  for (const NewEvent& e : events) {
    body.push_back({{"eventId", e.event_id}, {"eventType", e.event_type}, {"data", e.data}});
  }
  return body.dump();
}

Reply AppendEvents(NodeHttp& http, const std::string& stream, const std::vector<NewEvent>& events,
                   std::optional<std::string> expected_version) {
  Headers headers;
  if (expected_version) headers.emplace_back("ES-ExpectedVersion", *expected_version);
  return http.Call("POST", "/streams/" + stream, EventsBody(events),
                   "application/vnd.eventstore.events+json", headers);
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout, absl::Duration every) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(every);  // polling another process: there is nothing to wait on locally
  }
}

}  // namespace esdb::e2e
