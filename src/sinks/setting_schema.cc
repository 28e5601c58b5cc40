#include "sinks/setting_schema.h"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/host_settings.h"

namespace esdb {
namespace {

constexpr size_t kSettingV1Size = ESDB_FIELD_END(esdb_sink_setting, enum_values);

bool IsFamily(const SettingInfo& info) { return absl::EndsWith(info.name, ":"); }

const char* TypeName(esdb_sink_setting_type type) {
  switch (type) {
    case ESDB_SINK_SETTING_STRING:
      return "string";
    case ESDB_SINK_SETTING_INT:
      return "int";
    case ESDB_SINK_SETTING_BOOL:
      return "bool";
    case ESDB_SINK_SETTING_ENUM:
      return "enum";
    default:
      return nullptr;
  }
}

// The canonical spelling of `value` for `info`, or nullopt when the type rejects it. Integers are
// strict (an optional '-' and digits, within int64) because plugins parse them with C functions
// that would silently accept other forms; booleans and enum words are matched without regard to
// case, as the host's own settings are.
std::optional<std::string> Canonical(const SettingInfo& info, const std::string& value) {
  if (info.type == "int") {
    int64_t parsed = 0;
    const char* begin = value.data();
    const char* end = begin + value.size();
    if (value.empty() || (value[0] == '-' && value.size() == 1)) return std::nullopt;
    auto [ptr, ec] = std::from_chars(begin, end, parsed);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
  }
  if (info.type == "bool") {
    if (absl::EqualsIgnoreCase(value, "true")) return std::string("true");
    if (absl::EqualsIgnoreCase(value, "false")) return std::string("false");
    return std::nullopt;
  }
  if (info.type == "enum") {
    for (const std::string& word : info.enum_values) {
      if (absl::EqualsIgnoreCase(word, value)) return word;
    }
    return std::nullopt;
  }
  return value;
}

std::string Expected(const SettingInfo& info) {
  if (info.type == "int") return "a whole number";
  if (info.type == "bool") return "true or false";
  return absl::StrCat("one of ", absl::StrJoin(info.enum_values, ", "));
}

}  // namespace

absl::StatusOr<SettingInfo> CopySettingInfo(const esdb_sink_setting& entry) {
  if (entry.struct_size < kSettingV1Size) {
    return absl::InvalidArgumentError(absl::StrCat("a setting entry has struct_size ",
                                                   entry.struct_size, ", less than the ",
                                                   kSettingV1Size, " bytes of ABI version 1"));
  }
  if (entry.name == nullptr || entry.name[0] == '\0' || absl::string_view(entry.name) == ":") {
    return absl::InvalidArgumentError("a setting entry has no name");
  }
  SettingInfo info;
  info.name = entry.name;
  if (FindHostSetting(info.name) != nullptr || IsHostKey(info.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "setting '", info.name,
        "' is the host's (see GET /connector-plugins, kind host): the plugin would never "
        "receive it"));
  }
  const char* type = TypeName(entry.type);
  if (type == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting '", info.name, "' has unknown type ", entry.type));
  }
  info.type = type;
  info.required = entry.required != 0;
  info.secret = entry.secret != 0;
  if (ESDB_HAS_FIELD(esdb_sink_setting, &entry, target)) {
    if (entry.target < ESDB_SINK_TARGET_NONE || entry.target > ESDB_SINK_TARGET_NETWORK) {
      return absl::InvalidArgumentError(
          absl::StrCat("setting '", info.name, "' has unknown target ", entry.target));
    }
    info.target = entry.target;
  }
  if (entry.description != nullptr) info.description = entry.description;
  if (entry.type == ESDB_SINK_SETTING_ENUM) {
    if (entry.enum_values != nullptr) {
      info.enum_values = absl::StrSplit(entry.enum_values, '|', absl::SkipEmpty());
    }
    if (info.enum_values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("enum setting '", info.name, "' lists no values"));
    }
  }
  if (entry.default_value != nullptr) {
    info.has_default = true;
    info.default_value = entry.default_value;
    std::optional<std::string> canonical = Canonical(info, info.default_value);
    if (!canonical.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("setting '", info.name, "' has default '",
                                                     info.default_value, "', expected ",
                                                     Expected(info)));
    }
    info.default_value = *canonical;
  }
  return info;
}

const SettingInfo* FindSetting(const std::vector<SettingInfo>& table, const std::string& key) {
  const SettingInfo* family = nullptr;
  for (const SettingInfo& info : table) {
    if (IsFamily(info)) {
      if (key.size() > info.name.size() && absl::StartsWith(key, info.name) &&
          (family == nullptr || info.name.size() > family->name.size())) {
        family = &info;
      }
    } else if (info.name == key) {
      return &info;
    }
  }
  return family;
}

absl::StatusOr<SettingsMap> PrepareSettings(const std::string& plugin_name,
                                            const std::vector<SettingInfo>& table,
                                            const SettingsMap& settings) {
  SettingsMap out;
  for (const auto& [key, value] : settings) {
    const SettingInfo* info = FindSetting(table, key);
    if (info == nullptr) {
      std::vector<std::string> known;
      for (const SettingInfo& s : table) known.push_back(IsFamily(s) ? s.name + "*" : s.name);
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": unknown setting for ", plugin_name, " (it accepts ",
                       known.empty() ? "no settings" : absl::StrJoin(known, ", "), ")"));
    }
    std::optional<std::string> canonical = Canonical(*info, value);
    if (!canonical.has_value()) {
      return absl::InvalidArgumentError(
          info->secret
              ? absl::StrCat(key, ": the value is not valid, expected ", Expected(*info))
              : absl::StrCat(key, ": '", value, "' is not valid, expected ", Expected(*info)));
    }
    out.emplace(key, std::move(*canonical));
  }
  for (const SettingInfo& info : table) {
    if (IsFamily(info)) {
      if (!info.required) continue;
      auto it = out.lower_bound(info.name);
      if (it == out.end() || !absl::StartsWith(it->first, info.name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            info.name, ": ", plugin_name, " requires at least one '", info.name, "...' setting"));
      }
      continue;
    }
    auto it = out.find(info.name);
    // An empty value is what a form leaves behind for "not given", so it does not satisfy a
    // required setting.
    if (info.required && (it == out.end() || it->second.empty())) {
      return absl::InvalidArgumentError(
          absl::StrCat(info.name, ": required setting of ", plugin_name, " is missing"));
    }
    if (it == out.end() && info.has_default) out.emplace(info.name, info.default_value);
  }
  return out;
}

}  // namespace esdb
