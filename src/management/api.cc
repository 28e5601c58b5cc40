#include "management/api.h"

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/text.h"
#include "management/configuration.h"
#include "management/dead_letter_views.h"
#include "management/ui.h"
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

// The body of a request as a JSON object: 413 (OutOfRange) above kMaxBody, InvalidArgument when
// empty, not JSON, or not an object. `shape` shows what is expected.
absl::StatusOr<json> BodyObject(const ApiRequest& req, absl::string_view shape) {
  if (req.body.size() > kMaxBody) {
    return absl::OutOfRangeError(
        absl::StrCat("body is ", req.body.size(), " bytes; at most ", kMaxBody, " are accepted"));
  }
  if (req.body.empty()) return absl::InvalidArgumentError(absl::StrCat("body must be ", shape));
  auto body = ParseJson(req.body, kMaxRequestJsonDepth, "body");
  if (!body.ok()) return body.status();
  if (!body->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("body must be ", shape));
  }
  return body;
}

// A settings body: {"settings": {...}} or the settings object itself.
absl::StatusOr<SettingsMap> SettingsFromBody(const json& body) {
  return FlattenSettings(body.contains("settings") ? body["settings"] : body);
}

// A configuration body: the nested object itself, or {"configuration": {...}}.
absl::StatusOr<SettingsMap> ConfigurationFromBody(const json& body) {
  const bool wrapped =
      body.size() == 1 && body.contains("configuration") && body["configuration"].is_object();
  return FlattenConfiguration(wrapped ? body["configuration"] : body);
}

// What a create asks for.
struct CreateInput {
  SettingsMap settings;
  std::string name;  // "" when not given
};

// POST /connectors/{id}: KurrentDB's {"name", "settings", "configuration"} (a non-empty
// configuration wins over settings, as there), or this API's bare settings map.
absl::StatusOr<CreateInput> CreateFromBody(const json& body, const std::string& id) {
  // A bare map may hold a sink setting named "configuration" (a string): only an object there
  // makes the body KurrentDB's.
  const bool nested = body.contains("configuration") && body["configuration"].is_object();
  if (!body.contains("settings") && !nested) {
    auto flat = FlattenSettings(body);
    if (!flat.ok()) return flat.status();
    return CreateInput{*std::move(flat), ""};
  }
  CreateInput in;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "name") {
      if (!v.is_null() && !v.is_string()) {
        return absl::InvalidArgumentError("name must be a string");
      }
      // As in KurrentDB, a blank name means none: the id stands for it.
      if (v.is_string() && !absl::StripAsciiWhitespace(v.get<std::string>()).empty()) {
        in.name = v.get<std::string>();
      }
    } else if (k == "connectorId") {
      if (!v.is_string() || v.get<std::string>() != id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "connectorId in the body must be the id in the path ('", id, "') or left out"));
      }
    } else if (k != "settings" && k != "configuration") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", Excerpt(k),
                       "' next to settings or configuration; known: name, "
                       "settings, configuration"));
    }
  }
  const json* configuration = body.contains("configuration") ? &body["configuration"] : nullptr;
  if (configuration != nullptr && !configuration->is_null() &&
      !(configuration->is_object() && configuration->empty())) {
    auto flat = FlattenConfiguration(*configuration);
    if (!flat.ok()) return flat.status();
    in.settings = *std::move(flat);
  } else {
    const json settings = body.contains("settings") ? body["settings"] : json();
    auto flat = FlattenSettings(settings.is_null() ? json::object() : settings);
    if (!flat.ok()) return flat.status();
    in.settings = *std::move(flat);
  }
  // As in KurrentDB, a name equal to the id needs no further check.
  if (!in.name.empty() && in.name != id) {
    if (auto s = ValidateConnectorName(in.name); !s.ok()) return s;
  }
  return in;
}

// Validates settings for connector `id`: the host's keys, the plugin's table and its validate,
// the destination policy; a redacted secret sent back keeps its stored value (see below). The
// result's map has its secrets sealed, ready to be stored.
struct ValidSettings {
  SettingsMap flat;
  SealedSecrets secrets;
  ConnectorSettings parsed;
  const SinkPlugin* plugin;
};

absl::StatusOr<ValidSettings> ValidateSettings(SettingsMap flat, const std::string& id,
                                               const PluginSet& plugins, const Connector* previous,
                                               const secrets::KeyRing& keys,
                                               const DestinationPolicy& destinations) {
  auto parsed = ParseSettings(flat);
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
    for (auto& [k, v] : flat) {
      auto o = old->find(k);
      if (v != kRedacted || !is_secret(k) || o == old->end()) continue;
      v = o->second;
      parsed->sink_settings[k] = o->second;
      kept = k;
    }
    for (const auto& [k, v] : flat) {
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
  if (auto s = CheckMaxInFlight(**plugin, parsed->max_in_flight); !s.ok()) return s;
  std::vector<std::string> secret_keys;
  for (const auto& [k, v] : flat) {
    if (is_secret(k)) secret_keys.push_back(k);
  }
  auto sealed = secrets::SealSettings(id, std::move(secret_keys), flat, keys);
  if (!sealed.ok()) return sealed.status();
  return ValidSettings{std::move(flat), *std::move(sealed), std::move(*parsed), *plugin};
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

const SinkPlugin* ManagementApi::PluginOf(const Connector& c) const {
  auto t = c.settings.find("instanceTypeName");
  if (t == c.settings.end()) return nullptr;
  auto p = plugins_->Find(t->second);
  return p.ok() ? *p : nullptr;
}

std::optional<Position> ManagementApi::EndOfLog() const {
  auto p = node_->LastPosition();
  return p.ok() ? std::optional<Position>(*p) : std::nullopt;
}

// From what the registry follows: listing never reads a stream per connector.
Progress ManagementApi::ProgressOf(const Connector& c, std::optional<Position> end) const {
  Progress p;
  auto cp = registry_->LastCheckpoint(c.id);
  if (cp && cp->epoch >= c.epoch) {
    p = {cp->position, cp->at_us};
  } else if (c.epoch_position) {
    p = {c.epoch_position, c.epoch_us};
  }
  if (cp) {
    p.dead_letters = cp->dead_letters;
    p.last_dead_letter_error = cp->last_dead_letter_error;
    p.last_dead_letter_us = cp->last_dead_letter_us;
  }
  if (supervisor_ != nullptr && end) {
    if (auto m = supervisor_->RunningMetrics(c.id)) p.lag = m->Lag(end->commit);
  }
  return p;
}

json ManagementApi::View(const Connector& c, ViewParts parts) const {
  const auto end = EndOfLog();
  return ConnectorView(c, PluginOf(c), ProgressOf(c, end), end, parts);
}

ApiResponse ManagementApi::List(const ListQuery& q) const {
  // Whatever following the store missed (usually nothing: no I/O then).
  (void)registry_->Sync();
  json items = json::array();
  int64_t matched = 0;
  const auto end = EndOfLog();
  for (const Connector& c : q.show_deleted ? registry_->ListAll() : registry_->List()) {
    if (!q.Matches(c)) continue;
    if (matched++ < q.skip || static_cast<int64_t>(items.size()) >= q.take) continue;
    items.push_back(ConnectorView(c, PluginOf(c), ProgressOf(c, end), end,
                                  {q.include_settings, q.include_configuration}));
  }
  // totalSize counts every match, as KurrentDB documents it (KurrentDB 26 itself sends the size
  // of the page); total is this API's older name for it.
  return Json(200, {{"items", std::move(items)},
                    {"totalSize", matched},
                    {"total", matched},
                    {"skip", q.skip},
                    {"take", q.take}});
}

ApiResponse ManagementApi::DeadLetters(const Connector& c, absl::string_view query) const {
  auto page = DeadLetterPageFromUrl(query);
  if (!page.ok()) return FromStatus(page.status());
  auto stream_setting = c.settings.find("errors:deadLetter:stream");
  const std::string stream = ResolveDeadLetterStream(
      stream_setting == c.settings.end() ? "" : stream_setting->second, c.id, c.generation);
  auto ledger = ReadDeadLetters(*node_, stream, c.id, c.generation);
  if (!ledger.ok()) {
    return Error(503, "unavailable",
                 absl::StrCat("cannot read the dead-letter stream ", stream, ": ",
                              ledger.status().message()));
  }
  json items = json::array();
  const auto& pending = ledger->pending;
  for (size_t i = static_cast<size_t>(std::min<int64_t>(page->skip, pending.size()));
       i < pending.size() && static_cast<int64_t>(items.size()) < page->take; ++i) {
    items.push_back(DeadLetterView(pending[i]));
  }
  return Json(200, {{"connectorId", c.id},
                    {"stream", stream},
                    {"items", std::move(items)},
                    {"pending", pending.size()},
                    {"total", ledger->total},
                    {"replayed", ledger->replayed},
                    {"skip", page->skip},
                    {"take", page->take}});
}

ApiResponse ManagementApi::Handle(const ApiRequest& req) const {
  try {
    std::vector<std::string> seg = absl::StrSplit(req.path, '/', absl::SkipEmpty());
    const std::string& m = req.method;
    // POST /connectors/list only reads, for clients that cannot put lists in a query string.
    const bool list_post =
        m == "POST" && seg.size() == 2 && seg[0] == "connectors" && seg[1] == "list";
    const bool changes = m != "GET" && m != "HEAD" && !list_post;
    if (absl::Status s = Authorize(req.caller, changes); !s.ok()) {
      ApiResponse r = FromStatus(s);
      if (absl::IsUnauthenticated(s)) {
        r.headers.emplace_back("WWW-Authenticate", R"(Basic realm="esdb-connectors")");
      }
      return r;
    }
    if (changes) {
      if (absl::Status s = CheckSameOrigin(req.origin, req.host); !s.ok()) return FromStatus(s);
    }
    if (changes || list_post) {
      if (auto bad = CheckMediaType(req)) return *bad;
    }
    // The management page (ui.h): read as connectors are read.
    if (IsUiPath(req.path)) return ServeUi(req);
    auto not_found = [&](const std::string& id) {
      return Error(404, "not-found", absl::StrCat("connector '", id, "' does not exist"));
    };
    auto no_route = [&] {
      return Error(404, "not-found", absl::StrCat("no route for ", Excerpt(req.path)));
    };
    // A failed body: 413 when too large, else by its code.
    auto failed = [](const absl::Status& s) {
      if (absl::IsOutOfRange(s)) return Error(413, "payload-too-large", s.message());
      return FromStatus(s);
    };

    if (seg.size() == 1 && seg[0] == "connector-plugins") {
      if (m != "GET" && m != "HEAD") return MethodNotAllowed(m, "GET");
      json list = json::array({HostEntryView()});
      for (const SinkPlugin* p : plugins_->All()) list.push_back(PluginView(*p));
      for (const RefusedPlugin& r : plugins_->refused()) list.push_back(RefusedPluginView(r));
      return Json(200, list);
    }
    if (seg.empty() || seg[0] != "connectors") return no_route();

    if (seg.size() == 1 || list_post) {
      if (m != "GET" && m != "HEAD" && !list_post) return MethodNotAllowed(m, "GET");
      // The filter is in the query string, or in a JSON body (POST /connectors/list, and a GET
      // as KurrentDB 26.0 documented it); never in both.
      if (req.body.empty() && !list_post) {
        auto q = ListQueryFromUrl(req.query);
        if (!q.ok()) return FromStatus(q.status());
        return List(*q);
      }
      if (!req.query.empty()) {
        return Error(400, "bad-request",
                     "give the list filter in the query string or in the body, not both");
      }
      if (auto bad = CheckMediaType(req)) return *bad;
      absl::StatusOr<json> body = json::object();
      if (!req.body.empty()) body = BodyObject(req, "a JSON object with the list filter");
      if (!body.ok()) return failed(body.status());
      auto q = ListQueryFromJson(*body);
      if (!q.ok()) return FromStatus(q.status());
      return List(*q);
    }
    if (seg.size() == 2 && seg[1] == "list") return MethodNotAllowed(m, "POST");

    const std::string& id = seg[1];
    if (auto s = ValidateConnectorId(id); !s.ok()) return FromStatus(s);

    if (seg.size() == 2) {
      if (m == "GET" || m == "HEAD") {
        auto c = Fresh(id);
        if (!c) return not_found(id);
        json j = View(*c, {.settings = true});
        j["runningHere"] = supervisor_ != nullptr && supervisor_->IsRunningHere(id);
        // What the sink has acknowledged so far, ahead of the last checkpoint (this host only).
        j["deliveredPosition"] = nullptr;
        if (j["runningHere"] == true) {
          auto metrics = supervisor_->Metrics();
          if (auto found = metrics.find(id); found != metrics.end()) {
            j["deliveredPosition"] = found->second->delivered_position.load();
          }
        }
        return Json(200, j);
      }
      if (m == "POST") {
        if (auto s = ValidateNewConnectorId(id); !s.ok()) return FromStatus(s);
        auto body = BodyObject(req, R"(a JSON object: {"name": ..., "settings": {...}})");
        if (!body.ok()) return failed(body.status());
        auto in = CreateFromBody(*body, id);
        if (!in.ok()) return FromStatus(in.status());
        auto v = ValidateSettings(std::move(in->settings), id, *plugins_, nullptr, *keys_,
                                  *destinations_);
        if (!v.ok()) return FromStatus(v.status());
        auto c = registry_->Execute(id, cmd::Create{v->flat, v->secrets, in->name});
        if (!c.ok()) return FromStatus(c.status());
        json j = View(*c, {.settings = true});
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
    const bool settings = action == "settings";
    if ((settings || action == "configuration") && seg.size() == 3) {
      if (m == "GET" || m == "HEAD") {
        auto c = Fresh(id);
        if (!c) return not_found(id);
        json flat = SettingsView(*c, PluginOf(*c));
        const std::string at = FormatTime(c->settings_update_us);
        if (settings) return Json(200, {{"settings", flat}, {"settingsUpdateTime", at}});
        return Json(200, {{"configuration", NestSettings(flat)}, {"configurationUpdateTime", at}});
      }
      if (m != "PUT") return MethodNotAllowed(m, "GET, PUT");
      auto current = registry_->Get(id);
      if (!current) return not_found(id);
      auto body = BodyObject(
          req, settings ? "the settings as a JSON object" : "the configuration as a JSON object");
      if (!body.ok()) return failed(body.status());
      auto flat = settings ? SettingsFromBody(*body) : ConfigurationFromBody(*body);
      if (!flat.ok()) return FromStatus(flat.status());
      auto v = ValidateSettings(*std::move(flat), id, *plugins_, &*current, *keys_, *destinations_);
      if (!v.ok()) return FromStatus(v.status());
      auto c = registry_->Execute(id, cmd::Reconfigure{v->flat, v->secrets});
      if (!c.ok()) return FromStatus(c.status());
      json j = View(*c, {.settings = true});
      j["ignoredSettings"] = v->parsed.ignored;
      return Json(200, j);
    }
    if (action == "rename" && seg.size() == 3) {
      if (m != "PUT") return MethodNotAllowed(m, "PUT");
      auto body = BodyObject(req, R"(a JSON object: {"name": "..."})");
      if (!body.ok()) return failed(body.status());
      for (auto it = body->begin(); it != body->end(); ++it) {
        if (it.key() == "connectorId" && it.value() == id) continue;
        if (it.key() != "name") {
          return Error(400, "bad-request",
                       absl::StrCat("unknown field '", Excerpt(it.key()),
                                    "'; the body is {\"name\": \"...\"}"));
        }
      }
      if (!body->contains("name") || !(*body)["name"].is_string()) {
        return Error(400, "bad-request", "name is required, as a string");
      }
      auto c = registry_->Execute(id, cmd::Rename{(*body)["name"].get<std::string>()});
      if (!c.ok()) return FromStatus(c.status());
      return Json(200, View(*c, {}));
    }

    if (action == "restart" && seg.size() == 3) {
      if (m != "POST") return MethodNotAllowed(m, "POST");
      auto c = registry_->Execute(
          id, cmd::Restart{supervisor_ != nullptr ? supervisor_->host_id() : "", true});
      if (!c.ok()) return FromStatus(c.status());
      return Json(200, View(*c, {}));
    }
    if (action == "dead-letters" && seg.size() == 3) {
      if (m != "GET" && m != "HEAD") return MethodNotAllowed(m, "GET");
      auto c = Fresh(id);
      if (!c) return not_found(id);
      return DeadLetters(*c, req.query);
    }
    if (action == "dead-letters" && seg.size() == 4 && seg[3] == "replay") {
      if (m != "POST") return MethodNotAllowed(m, "POST");
      auto c = registry_->Execute(id, cmd::ReplayDeadLetters{req.caller.name});
      if (!c.ok()) return FromStatus(c.status());
      // Accepted: the connector's runner is replaced, and the new one sends them first.
      return Json(202, View(*c, {}));
    }

    bool enable = action == "enable" || action == "start";
    bool disable = action == "disable" || action == "stop";
    bool reset = action == "reset";
    if (!(enable || disable || reset) || seg.size() > 4 || (disable && seg.size() == 4)) {
      return no_route();
    }
    if (m != "POST") return MethodNotAllowed(m, "POST");
    std::optional<Position> position;
    if (seg.size() == 4) {
      auto p = Position::Parse(seg[3]);
      if (!p.ok()) return FromStatus(p.status());
      position = *p;
    }
    // A reset without a position goes back to the beginning of the log, as KurrentDB documents.
    Command command = disable  ? Command(cmd::Disable{})
                      : enable ? Command(cmd::Enable{position})
                               : Command(cmd::Reset{position.value_or(Position{})});
    auto c = registry_->Execute(id, command);
    if (!c.ok()) return FromStatus(c.status());
    return Json(200, View(*c, {}));
  } catch (const std::exception& e) {
    return Error(500, "internal", absl::StrCat("unexpected error: ", e.what()));
  }
}

}  // namespace esdb
