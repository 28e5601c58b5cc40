#include "management/views.h"

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "core/host_settings.h"
#include "management/configuration.h"
#include "secrets/sealed_settings.h"

namespace esdb {

using nlohmann::json;

std::string FormatTime(int64_t unix_us) {
  if (unix_us == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(unix_us),
                          absl::UTCTimeZone());
}

json SettingsView(const Connector& c, const SinkPlugin* plugin) {
  // Fail closed: secret if the connector, the plugin (when loaded) or the name says so, and any
  // sealed value whatever anyone says.
  json out = json::object();
  for (const auto& [k, v] : c.settings) {
    bool secret = absl::c_linear_search(c.secrets.keys, k) ||
                  (plugin != nullptr && plugin->IsSecret(k)) || IsSecretSettingName(k) ||
                  absl::StartsWith(v, secrets::kSealedPrefix);
    out[k] = secret ? kRedacted : v;
  }
  return out;
}

std::string ViewStateName(const Connector& c) {
  return IsDeleted(c) ? "DELETED" : ConnectorStateName(c.state);
}

bool IsDeleted(const Connector& c) { return !c.exists && c.revision >= 0; }

json ConnectorView(const Connector& c, const SinkPlugin* plugin, const Progress& progress,
                   std::optional<Position> end, ViewParts parts) {
  auto type = c.settings.find("instanceTypeName");
  auto time_or_null = [](int64_t us) { return us == 0 ? json(nullptr) : json(FormatTime(us)); };
  const std::optional<Position>& position = progress.position;
  const bool deleted = IsDeleted(c);
  // Shown from the failure until the connector recovers (or is enabled or stopped again), so a
  // connector that restarts itself still says why.
  json error = nullptr;
  if (c.exists && (c.state == ConnectorState::kFailed || !c.error.empty())) {
    error = {{"code", c.damaged ? "stream-deleted" : "connector-failed"},
             {"message", c.error},
             {"time", FormatTime(c.error_us)}};
  }
  auto setting = [&](const char* key) {
    auto it = c.settings.find(key);
    return it == c.settings.end() ? std::string() : it->second;
  };
  const bool restarts = !absl::EqualsIgnoreCase(setting("restart:policy"), "never");
  json restart = {
      {"policy", restarts ? "onFailure" : "never"},
      {"attempts", c.restart_attempts},
      {"nextRestartTime", c.exists && c.state == ConnectorState::kFailed && c.restart_at_us != 0 &&
                                  restarts && !c.failure_permanent
                              ? json(FormatTime(c.restart_at_us))
                              : json(nullptr)},
      {"automatic", !c.failure_permanent}};
  std::string dead_stream = setting("errors:deadLetter:stream");
  json dead_letters = {
      {"stream", dead_stream.empty() ? DeadLetterStream(c.id, c.generation) : dead_stream},
      {"count", progress.dead_letters},
      {"lastError", progress.dead_letters == 0
                        ? json(nullptr)
                        : json{{"message", progress.last_dead_letter_error},
                               {"time", FormatTime(progress.last_dead_letter_us)}}}};
  json j = {
      {"connectorId", c.id},
      {"name", DisplayName(c)},
      {"instanceTypeName", type == c.settings.end() ? "" : type->second},
      {"state", ViewStateName(c)},
      {"stateUpdateTime", FormatTime(c.state_update_us)},
      {"settingsUpdateTime", FormatTime(c.settings_update_us)},
      {"createTime", FormatTime(c.create_us)},
      {"updateTime", FormatTime(c.update_us)},
      {"deleteTime", deleted ? time_or_null(c.delete_us) : json(nullptr)},
      {"position", position ? json(position->commit) : json(nullptr)},
      {"positionUpdateTime", position ? time_or_null(progress.at_us) : json(nullptr)},
      {"lag", deleted        ? json(nullptr)
              : progress.lag ? json(*progress.lag)
              : position && end
                  ? json(end->commit > position->commit ? end->commit - position->commit : 0)
                  : json(nullptr)},
      {"host", c.exists && c.state == ConnectorState::kRunning ? json(c.host) : json(nullptr)},
      {"errorDetails", std::move(error)},
      {"restart", std::move(restart)},
      {"deadLetters", std::move(dead_letters)},
      {"revision", c.revision},
  };
  if (parts.settings || parts.configuration) {
    json settings = SettingsView(c, plugin);
    if (parts.configuration) {
      j["configuration"] = NestSettings(settings);
      j["configurationUpdateTime"] = FormatTime(c.settings_update_us);
    }
    if (parts.settings) j["settings"] = std::move(settings);
  }
  return j;
}

json HostEntryView() {
  json settings = json::array();
  for (const HostSetting& s : HostSettings()) {
    json item = {{"name", std::string(s.name)},
                 {"type", std::string(TypeName(s))},
                 {"required", s.required},
                 {"secret", s.secret},
                 {"description", std::string(s.description)}};
    item["default"] = s.default_value.empty() ? json(nullptr) : json(std::string(s.default_value));
    if (s.type == HostSettingType::kEnum) {
      json values = json::array();
      for (absl::string_view v : EnumValues(s)) values.push_back(std::string(v));
      item["values"] = std::move(values);
    }
    if (s.type == HostSettingType::kInt || s.type == HostSettingType::kNumber) {
      item["minimum"] = s.min;
      item["maximum"] = s.max;
    }
    if (!s.unit.empty()) item["unit"] = std::string(s.unit);
    if (s.ignored) item["ignored"] = true;
    settings.push_back(std::move(item));
  }
  return {{"kind", "host"},
          {"name", "host"},
          {"version", ""},
          {"description",
           "Settings every connector takes, whatever its sink; the host reads them itself and "
           "no plugin ever receives them."},
          {"settings", std::move(settings)},
          {"file", nullptr},
          {"loaded", true}};
}

json PluginView(const SinkPlugin& p) {
  json settings = json::array();
  for (const SettingInfo& s : p.settings()) {
    json item = {{"name", s.name},         {"type", s.type},     {"required", s.required},
                 {"secret", s.secret},     {"description", s.description}};
    item["default"] = s.has_default ? json(s.default_value) : json(nullptr);
    if (!s.enum_values.empty()) item["values"] = s.enum_values;
    settings.push_back(std::move(item));
  }
  return {{"kind", "sink"},
          {"name", p.name()},
          {"version", p.version()},
          {"description", p.description()},
          {"settings", std::move(settings)},
          {"file", p.path()},
          {"loaded", true}};
}

json RefusedPluginView(const RefusedPlugin& r) {
  return {{"kind", "sink"},  {"name", ""},      {"version", ""},
          {"description", ""}, {"settings", json::array()}, {"file", r.path},
          {"loaded", false},   {"error", r.reason}};
}

}  // namespace esdb
