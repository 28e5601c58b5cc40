#include "devnode/streams_http.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "auth/stream_access.h"
#include "core/json.h"
#include "core/text.h"
#include "devnode/node_status.h"
#include "http/error_body.h"
#include "nlohmann/json.hpp"

namespace esdb::devnode {
namespace {

using nlohmann::json;

constexpr char kEventsJson[] = "application/vnd.eventstore.events+json";

http::Response Json(int status, const json& body) {
  http::Response r;
  r.status = status;
  r.body = DumpJson(body);
  return r;
}

http::Response Error(int status, absl::string_view code, absl::string_view message) {
  return Json(status, {{"error", std::string(code)}, {"message", std::string(message)}});
}

http::Response FromStatus(const absl::Status& s) {
  switch (ToNodeStatus(s)) {
    case ESDB_NODE_STREAM_NOT_FOUND:
      return Error(404, "stream-not-found", s.message());
    case ESDB_NODE_STREAM_DELETED:
      return Error(410, "stream-deleted", s.message());
    case ESDB_NODE_INVALID_ARGUMENT:
      return Error(400, "bad-request", s.message());
    case ESDB_NODE_UNAVAILABLE:
      return Error(503, "unavailable", s.message());
    default:
      return Error(500, "internal", s.message());
  }
}

// A JSON value as stored event bytes: objects/arrays as JSON text, strings as they are.
std::string EventBytes(const json& v) {
  if (v.is_null()) return "";
  return v.is_string() ? v.get<std::string>() : DumpJson(v);
}

json EventJson(const RecordedEvent& e) {
  auto body = [&](const std::string& bytes) -> json {
    if (bytes.empty()) return nullptr;
    // Too deep or not JSON (appended over gRPC): served as base64 rather than parsed into a tree.
    auto parsed = ParseJson(bytes, kMaxEventJsonDepth, "event");
    if (parsed.ok()) return *std::move(parsed);
    return absl::Base64Escape(bytes);
  };
  return {{"eventId", e.event_id},
          {"eventType", e.event_type},
          {"eventNumber", e.revision},
          {"position", e.position},
          {"streamId", e.stream},
          {"contentType", e.content_type},
          {"data",
           e.content_type == "application/json" ? body(e.data) : json(absl::Base64Escape(e.data))},
          {"metadata", body(e.metadata)},
          {"created", absl::FormatTime(absl::RFC3339_full, absl::FromUnixMicros(e.created_unix_us),
                                       absl::UTCTimeZone())}};
}

http::Response Append(LogNode& node, const std::string& stream, const http::Request& req) {
  std::string type = absl::AsciiStrToLower(req.Header("Content-Type"));
  if (type.empty()) {
    return Error(415, "unsupported-media-type",
                 absl::StrCat("Content-Type is required: ", kEventsJson,
                              " (an array of events) or application/json with ES-EventType"));
  }
  int64_t expected = ESDB_EXPECT_ANY;
  if (std::string ev = req.Header("ES-ExpectedVersion"); !ev.empty()) {
    if (!absl::SimpleAtoi(ev, &expected) || expected < -4 || expected == -3) {
      return Error(400, "bad-request",
                   absl::StrCat("ES-ExpectedVersion: '", Excerpt(ev),
                                "' is not valid (a revision, -1 no stream, -2 any, -4 exists)"));
    }
  }
  // The events array and each event object sit above the payloads.
  auto parsed = ParseJson(req.body, kMaxEventJsonDepth + 2, "body");
  const json& body = parsed.ok() ? *parsed : json();
  std::vector<AppendEvent> events;
  if (absl::StartsWith(type, kEventsJson)) {
    if (!parsed.ok()) return Error(400, "bad-request", parsed.status().message());
    if (!body.is_array() || body.empty()) {
      return Error(400, "bad-request",
                   "body must be a non-empty JSON array of {eventId, eventType, data}");
    }
    for (const json& e : body) {
      if (!e.is_object() || !e.contains("eventType") || !e["eventType"].is_string() ||
          e["eventType"].get<std::string>().empty()) {
        return Error(400, "bad-request", "every event needs a non-empty eventType");
      }
      AppendEvent a;
      a.event_type = e["eventType"];
      if (e.contains("eventId")) {
        if (!e["eventId"].is_string()) return Error(400, "bad-request", "eventId must be a UUID");
        a.event_id = absl::AsciiStrToLower(e["eventId"].get<std::string>());
      }
      a.data = e.contains("data") ? EventBytes(e["data"]) : "";
      a.metadata = e.contains("metadata") ? EventBytes(e["metadata"]) : "";
      a.content_type = "application/json";
      events.push_back(std::move(a));
    }
  } else if (absl::StartsWith(type, "application/json")) {
    if (!parsed.ok()) return Error(400, "bad-request", parsed.status().message());
    AppendEvent a;
    a.event_type = req.Header("ES-EventType");
    if (a.event_type.empty()) {
      return Error(400, "bad-request", "application/json needs the ES-EventType header");
    }
    a.event_id = absl::AsciiStrToLower(req.Header("ES-EventId"));
    a.data = req.body;
    events.push_back(std::move(a));
  } else {
    return Error(
        415, "unsupported-media-type",
        absl::StrCat("Content-Type '", Excerpt(type), "' is not supported; use ", kEventsJson));
  }
  auto r = node.Append(stream, expected, std::move(events));
  if (!r.ok()) {
    if (ToNodeStatus(r.status()) == ESDB_NODE_WRONG_EXPECTED_VERSION) {
      // As the real node: a 400 that says what the stream is at.
      return Error(
          400, "wrong-expected-version",
          absl::StrCat("Wrong expected EventNumber: expected ", expected, ", stream '",
                       Excerpt(stream), "' is at ", ActualRevision(r.status()).value_or(-1)));
    }
    return FromStatus(r.status());
  }
  http::Response out = Json(201, {{"streamId", stream},
                                  {"eventNumber", r->next_expected_revision},
                                  {"position", r->position}});
  out.headers.emplace_back("Location",
                           absl::StrCat("/streams/", stream, "/", r->next_expected_revision));
  return out;
}

http::Response Read(LogNode& node, const std::string& stream, const http::Request& req) {
  uint64_t from = 0, count = 20;
  bool backwards = false;
  for (absl::string_view kv : absl::StrSplit(req.query, '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    bool ok = true;
    if (p.first == "from") {
      ok = p.second == "end" ? (from = ESDB_REVISION_END, true) : absl::SimpleAtoi(p.second, &from);
    } else if (p.first == "count") {
      ok = absl::SimpleAtoi(p.second, &count) && count >= 1 && count <= 4096;
    } else if (p.first == "direction") {
      ok = p.second == "forwards" || p.second == "backwards";
      backwards = p.second == "backwards";
    }
    if (!ok)
      return Error(400, "bad-request",
                   absl::StrCat("bad query parameter '", Excerpt(p.first), "'"));
  }
  if (backwards && from == 0 && !absl::StrContains(req.query, "from=")) from = ESDB_REVISION_END;
  auto events = node.ReadStream(
      stream, backwards ? ReadDirection::kBackwards : ReadDirection::kForwards, from, count);
  if (!events.ok()) return FromStatus(events.status());
  json list = json::array();
  for (const RecordedEvent& e : *events) list.push_back(EventJson(e));
  return Json(200, {{"streamId", stream}, {"events", list}});
}

}  // namespace

std::optional<http::Response> RefuseNodeRoute(const http::Request& request) {
  const std::string& path = request.path;
  absl::Status allowed;
  if (path == "/metrics") {
    allowed = auth::RequireAuthenticated(request.principal);
  } else if (absl::StartsWith(path, "/streams/") && path.size() > 9) {
    allowed = auth::AuthorizeStream(
        request.principal,
        request.method == "GET" ? auth::StreamOperation::kRead : auth::StreamOperation::kWrite,
        path.substr(9));
  }
  if (allowed.ok()) return std::nullopt;
  return http::AccessErrorResponse(allowed);
}

http::Response HandleNodeRoute(LogNode& node, const http::Request& req,
                               const std::function<std::string()>& library_metrics) {
  const std::string& path = req.path;
  if (path == "/health/live") {
    http::Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  if (path == "/info") {
    return Json(200, {{"esVersion", kDevnodeVersion},
                      {"state", "leader"},
                      {"product", "esdb-devnode"},
                      {"lastPosition", node.LastPosition()}});
  }
  if (path == "/metrics") {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = absl::StrCat(
        "# HELP esdb_devnode_log_position Position of the last event in the log.\n"
        "# TYPE esdb_devnode_log_position gauge\nesdb_devnode_log_position ",
        node.LastPosition(), "\n", library_metrics ? library_metrics() : "");
    return r;
  }
  if (absl::StartsWith(path, "/streams/") && path.size() > 9) {
    // The whole decoded rest is the name, so streams whose names hold '/' (the library's
    // $connectors/{id}/checkpoints and .../dead-letters) can be read: clients send the slash
    // percent-encoded (%2F). Single events (/streams/{stream}/{n}) are not served.
    std::string stream = path.substr(9);
    if (req.method == "POST") return Append(node, stream, req);
    if (req.method == "GET") return Read(node, stream, req);
    http::Response r = Error(405, "method-not-allowed", "use GET or POST");
    r.headers.emplace_back("Allow", "GET, POST");
    return r;
  }
  return Error(404, "not-found", absl::StrCat("no route for ", Excerpt(path)));
}

}  // namespace esdb::devnode
