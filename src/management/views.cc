#include "management/views.h"

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
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

json ConnectorView(const Connector& c, const SinkPlugin* plugin, std::optional<Position> position,
                   std::optional<Position> end, bool with_settings) {
  auto type = c.settings.find("instanceTypeName");
  json j = {
      {"connectorId", c.id},
      {"instanceTypeName", type == c.settings.end() ? "" : type->second},
      {"state", ConnectorStateName(c.state)},
      {"stateUpdateTime", FormatTime(c.state_update_us)},
      {"settingsUpdateTime", FormatTime(c.settings_update_us)},
      {"position", position ? json(position->commit) : json(nullptr)},
      {"lag", position && end ? json(end->commit > position->commit ? end->commit - position->commit
                                                                    : 0)
                              : json(nullptr)},
      {"host", c.state == ConnectorState::kRunning ? json(c.host) : json(nullptr)},
      {"errorDetails", c.state == ConnectorState::kFailed
                           ? json{{"message", c.error}, {"time", FormatTime(c.error_us)}}
                           : json(nullptr)},
      {"revision", c.revision},
  };
  if (with_settings) j["settings"] = SettingsView(c, plugin);
  return j;
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
  return {{"name", p.name()},
          {"version", p.version()},
          {"description", p.description()},
          {"settings", std::move(settings)}};
}

}  // namespace esdb
