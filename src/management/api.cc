#include "management/api.h"

#include <algorithm>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/text.h"
#include "management/views.h"
#include "nlohmann/json.hpp"
#include "secrets/sealed_settings.h"

namespace esdb {
namespace {

using nlohmann::json;

constexpr size_t kMaxBody = 1 << 20;

ApiResponse Json(int status, const json& body) {
  ApiResponse r;
  r.status = status;
  r.body = DumpJson(body);
  return r;
}

ApiResponse Error(int status, absl::string_view code, absl::string_view message) {
  return Json(status, {{"error", std::string(code)}, {"message", std::string(message)}});
}

ApiResponse FromStatus(const absl::Status& s) {
  std::string m(s.message());
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return Error(400, "bad-request", m);
    case absl::StatusCode::kNotFound: return Error(404, "not-found", m);
    case absl::StatusCode::kAlreadyExists: return Error(409, "already-exists", m);
    case absl::StatusCode::kFailedPrecondition: return Error(409, "invalid-state", m);
    case absl::StatusCode::kAborted: return Error(409, "conflict", m);
    case absl::StatusCode::kPermissionDenied: return Error(403, "forbidden", m);
    case absl::StatusCode::kUnauthenticated: return Error(401, "unauthorized", m);
    case absl::StatusCode::kUnavailable: return Error(503, "unavailable", m);
    default: return Error(500, "internal", m);
  }
}

// 415 unless a body (or its announced type) is JSON. Browsers send forms and text/plain
// cross-site without asking first; application/json they must ask for, and are never allowed.
std::optional<ApiResponse> CheckMediaType(const ApiRequest& req) {
  if (req.body.empty() && req.content_type.empty()) return std::nullopt;
  if (IsJsonContentType(req.content_type)) return std::nullopt;
  return Error(415, "unsupported-media-type",
               absl::StrCat("Content-Type must be application/json, not '",
                            Excerpt(req.content_type), "'"));
}

ApiResponse MethodNotAllowed(const std::string& method, std::string_view allowed) {
  ApiResponse r = Error(405, "method-not-allowed",
                        absl::StrCat(method, " is not allowed here; use ", std::string(allowed)));
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size() && absl::ascii_isxdigit(in[i + 1]) &&
               absl::ascii_isxdigit(in[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(const std::string& query) {
  std::map<std::string, std::string> out;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    out[PercentDecode(kv.first)] = PercentDecode(kv.second);
  }
  return out;
}

// Parses and validates a settings body: {"settings": {...}} or the settings object itself. The
// result's map has its secrets sealed, ready to be stored.
struct ValidSettings {
  SettingsMap flat;
  SealedSecrets secrets;
  ConnectorSettings parsed;
  const SinkPlugin* plugin;
};

absl::StatusOr<ValidSettings> ValidateBody(const ApiRequest& req, const std::string& id,
                                           const PluginSet& plugins, const Connector* previous,
                                           const secrets::KeyRing& keys,
                                           const DestinationPolicy& destinations) {
  if (req.body.size() > kMaxBody) {
    return absl::OutOfRangeError(absl::StrCat("body is ", req.body.size(),
                                              " bytes; at most ", kMaxBody, " are accepted"));
  }
  if (req.body.empty()) {
    return absl::InvalidArgumentError(R"(body must be a JSON object: {"settings": {...}})");
  }
  auto parsed_body = ParseJson(req.body, kMaxRequestJsonDepth, "body");
  if (!parsed_body.ok()) return parsed_body.status();
  const json& body = *parsed_body;
  if (!body.is_object()) {
    return absl::InvalidArgumentError(R"(body must be a JSON object: {"settings": {...}})");
  }
  const json& settings = body.contains("settings") ? body["settings"] : body;
  auto flat = FlattenSettings(settings);
  if (!flat.ok()) return flat.status();
  auto parsed = ParseSettings(*flat);
  if (!parsed.ok()) return parsed.status();
  auto plugin = plugins.Find(parsed->instance_type);
  if (!plugin.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("instanceTypeName: ", plugin.status().message()));
  }
  auto is_secret = [&](const std::string& k) {
    return (*plugin)->IsSecret(k) || IsSecretSettingName(k) ||
           (previous != nullptr && absl::c_linear_search(previous->secrets.keys, k));
  };
  // A redacted secret sent back unchanged keeps its stored value, unless a destination (a
  // setting the plugin marks as a file or network target) changes: whoever may change settings
  // could otherwise send the stored secret to a server of theirs.
  if (previous != nullptr) {
    auto old = secrets::OpenSettings(id, previous->settings, previous->secrets, keys);
    if (!old.ok()) return old.status();
    std::string kept;
    for (auto& [k, v] : *flat) {
      auto o = old->find(k);
      if (v != kRedacted || !is_secret(k) || o == old->end()) continue;
      v = o->second;
      parsed->sink_settings[k] = o->second;
      kept = k;
    }
    for (const auto& [k, v] : *flat) {
      auto o = old->find(k);
      if (!kept.empty() && (*plugin)->TargetOf(k) != ESDB_SINK_TARGET_NONE &&
          (o == old->end() || o->second != v)) {
        return absl::InvalidArgumentError(absl::StrCat(
            k, " changes, so the secret ", kept, " must be given again, not as ", kRedacted));
      }
    }
  }
  // Files and destinations are the host's policy. Paths are stored as given: each host that
  // runs the connector resolves them under its own root when it opens the sink.
  if (auto s = destinations.Apply(**plugin, parsed->sink_settings); !s.ok()) return s;
  if (auto s = (*plugin)->Validate(parsed->sink_settings); !s.ok()) return s;
  std::vector<std::string> secret_keys;
  for (const auto& [k, v] : *flat) {
    if (is_secret(k)) secret_keys.push_back(k);
  }
  auto sealed = secrets::SealSettings(id, std::move(secret_keys), *flat, keys);
  if (!sealed.ok()) return sealed.status();
  return ValidSettings{std::move(*flat), *std::move(sealed), std::move(*parsed), *plugin};
}

}  // namespace

ManagementApi::ManagementApi(Registry* registry, const PluginSet* plugins, const NodeClient* node,
                             const Supervisor* supervisor, const secrets::KeyRing* keys,
                             const DestinationPolicy* destinations)
    : registry_(registry),
      plugins_(plugins),
      node_(node),
      supervisor_(supervisor),
      keys_(keys),
      destinations_(destinations) {}

std::optional<Connector> ManagementApi::Fresh(const std::string& id) const {
  auto c = registry_->Refresh(id);
  if (!c.ok()) return registry_->Get(id);  // the node is unreachable: say what we last knew
  if (!c->exists) return std::nullopt;
  return *c;
}

ApiResponse ManagementApi::Handle(const ApiRequest& req) const {
  try {
    std::vector<std::string> seg = absl::StrSplit(req.path, '/', absl::SkipEmpty());
    const std::string& m = req.method;
    const bool changes = m != "GET" && m != "HEAD";
    if (absl::Status s = Authorize(req.caller, changes); !s.ok()) {
      ApiResponse r = FromStatus(s);
      if (absl::IsUnauthenticated(s)) {
        r.headers.emplace_back("WWW-Authenticate", R"(Basic realm="esdb-connectors")");
      }
      return r;
    }
    if (changes) {
      if (absl::Status s = CheckSameOrigin(req.origin, req.host); !s.ok()) return FromStatus(s);
      if (auto bad = CheckMediaType(req)) return *bad;
    }

    auto plugin_of = [&](const Connector& c) -> const SinkPlugin* {
      auto t = c.settings.find("instanceTypeName");
      if (t == c.settings.end()) return nullptr;
      auto p = plugins_->Find(t->second);
      return p.ok() ? *p : nullptr;
    };
    auto end_position = [&]() -> std::optional<Position> {
      auto p = node_->LastPosition();
      return p.ok() ? std::optional<Position>(*p) : std::nullopt;
    };
    // From what the registry follows: listing never reads a stream per connector.
    auto position_of = [&](const Connector& c) -> std::optional<Position> {
      auto cp = registry_->LastCheckpoint(c.id);
      if (cp && cp->epoch >= c.epoch) return cp->position;
      return c.epoch_position;
    };
    auto view = [&](const Connector& c, bool with_settings) {
      return ConnectorView(c, plugin_of(c), position_of(c), end_position(), with_settings);
    };

    if (seg.size() == 1 && seg[0] == "connector-plugins") {
      if (m != "GET" && m != "HEAD") return MethodNotAllowed(m, "GET");
      json list = json::array();
      for (const SinkPlugin* p : plugins_->All()) list.push_back(PluginView(*p));
      return Json(200, list);
    }
    if (seg.empty() || seg[0] != "connectors") {
      return Error(404, "not-found", absl::StrCat("no route for ", Excerpt(req.path)));
    }

    if (seg.size() == 1) {
      if (m != "GET" && m != "HEAD") return MethodNotAllowed(m, "GET");
      auto q = ParseQuery(req.query);
      int64_t skip = 0, take = 100;
      if (q.contains("skip") && (!absl::SimpleAtoi(q["skip"], &skip) || skip < 0)) {
        return Error(400, "bad-request", "skip must be a whole number >= 0");
      }
      if (q.contains("take") && (!absl::SimpleAtoi(q["take"], &take) || take < 1 || take > 1000)) {
        return Error(400, "bad-request", "take must be a whole number from 1 to 1000");
      }
      std::vector<std::string> states;
      if (q.contains("state")) states = absl::StrSplit(absl::AsciiStrToUpper(q["state"]), ',');
      // Whatever following the store missed (usually nothing: no I/O then).
      (void)registry_->Sync();
      std::vector<Connector> all = registry_->List();
      json items = json::array();
      int64_t matched = 0;
      auto end = end_position();
      for (const Connector& c : all) {
        if (!states.empty() && std::find(states.begin(), states.end(),
                                         ConnectorStateName(c.state)) == states.end()) {
          continue;
        }
        auto t = c.settings.find("instanceTypeName");
        if (q.contains("instanceTypeName") &&
            (t == c.settings.end() || t->second != q["instanceTypeName"])) {
          continue;
        }
        if (q.contains("host") &&
            !(c.state == ConnectorState::kRunning && c.host == q["host"])) {
          continue;
        }
        if (matched++ < skip || static_cast<int64_t>(items.size()) >= take) continue;
        items.push_back(ConnectorView(c, plugin_of(c), position_of(c), end, false));
      }
      return Json(200, {{"items", items}, {"total", matched}, {"skip", skip}, {"take", take}});
    }

    const std::string& id = seg[1];
    if (auto s = ValidateConnectorId(id); !s.ok()) return FromStatus(s);

    if (seg.size() == 2) {
      if (m == "GET" || m == "HEAD") {
        auto c = Fresh(id);
        if (!c) return Error(404, "not-found", absl::StrCat("connector '", id, "' does not exist"));
        json j = view(*c, true);
        j["runningHere"] = supervisor_ != nullptr && supervisor_->IsRunningHere(id);
        // What the sink has acknowledged so far, ahead of the last checkpoint (this host only).
        j["deliveredPosition"] = nullptr;
        if (j["runningHere"] == true) {
          auto metrics = supervisor_->Metrics();
          if (auto m = metrics.find(id); m != metrics.end()) {
            j["deliveredPosition"] = m->second->delivered_position.load();
          }
        }
        return Json(200, j);
      }
      if (m == "POST") {
        auto v = ValidateBody(req, id, *plugins_, nullptr, *keys_, *destinations_);
        if (!v.ok()) {
          if (absl::IsOutOfRange(v.status())) {
            return Error(413, "payload-too-large", v.status().message());
          }
          return FromStatus(v.status());
        }
        auto c = registry_->Execute(id, cmd::Create{v->flat, v->secrets});
        if (!c.ok()) return FromStatus(c.status());
        json j = view(*c, true);
        j["ignoredSettings"] = v->parsed.ignored;
        return Json(201, j);
      }
      if (m == "DELETE") {
        auto c = registry_->Execute(id, cmd::Delete{});
        if (!c.ok()) return FromStatus(c.status());
        return Json(200, {{"connectorId", id}, {"deleted", true}});
      }
      return MethodNotAllowed(m, "GET, POST, DELETE");
    }

    const std::string& action = seg[2];
    if (action == "settings" && seg.size() == 3) {
      if (m == "GET" || m == "HEAD") {
        auto c = Fresh(id);
        if (!c) return Error(404, "not-found", absl::StrCat("connector '", id, "' does not exist"));
        return Json(200, {{"settings", SettingsView(*c, plugin_of(*c))},
                          {"settingsUpdateTime", FormatTime(c->settings_update_us)}});
      }
      if (m == "PUT") {
        auto current = registry_->Get(id);
        if (!current) {
          return Error(404, "not-found", absl::StrCat("connector '", id, "' does not exist"));
        }
        auto v = ValidateBody(req, id, *plugins_, &*current, *keys_, *destinations_);
        if (!v.ok()) {
          if (absl::IsOutOfRange(v.status())) {
            return Error(413, "payload-too-large", v.status().message());
          }
          return FromStatus(v.status());
        }
        auto c = registry_->Execute(id, cmd::Reconfigure{v->flat, v->secrets});
        if (!c.ok()) return FromStatus(c.status());
        json j = view(*c, true);
        j["ignoredSettings"] = v->parsed.ignored;
        return Json(200, j);
      }
      return MethodNotAllowed(m, "GET, PUT");
    }

    bool enable = action == "enable" || action == "start";
    bool disable = action == "disable" || action == "stop";
    bool reset = action == "reset";
    if (!(enable || disable || reset) || seg.size() > 4 || (disable && seg.size() == 4)) {
      return Error(404, "not-found", absl::StrCat("no route for ", Excerpt(req.path)));
    }
    if (m != "POST") return MethodNotAllowed(m, "POST");
    std::optional<Position> position;
    if (seg.size() == 4) {
      auto p = Position::Parse(seg[3]);
      if (!p.ok()) return FromStatus(p.status());
      position = *p;
    }
    Command command = disable ? Command(cmd::Disable{})
                      : enable ? Command(cmd::Enable{position})
                               : Command(cmd::Reset{position});
    auto c = registry_->Execute(id, command);
    if (!c.ok()) return FromStatus(c.status());
    return Json(200, view(*c, false));
  } catch (const std::exception& e) {
    return Error(500, "internal", absl::StrCat("unexpected error: ", e.what()));
  }
}

}  // namespace esdb
