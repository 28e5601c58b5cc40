#include "core/settings.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/host_settings.h"
#include "core/json.h"
#include "core/text.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

absl::Status CheckPrintable(const std::string& key, absl::string_view what,
                            absl::string_view text) {
  size_t at = FindControl(text);
  if (at == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      Excerpt(key), ": the ", what, " has a control character (byte ",
      static_cast<int>(static_cast<unsigned char>(text[at])), " at offset ", at,
      "); settings may not contain NUL, newlines or other control characters"));
}

// `depth` counts the objects above `node`; the parsers bound it already (core/json.h), this keeps
// a caller that built a tree itself from recursing without end.
absl::Status FlattenInto(const nlohmann::json& node, const std::string& prefix, size_t depth,
                         SettingsMap& out) {
  if (depth > kMaxRequestJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "settings are nested more than ", kMaxRequestJsonDepth, " levels deep"));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : absl::StrCat(prefix, ":", it.key());
    const nlohmann::json& v = it.value();
    if (it.key().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("settings: empty key under '", Excerpt(prefix), "'"));
    }
    if (v.is_object()) {
      if (auto s = FlattenInto(v, key, depth + 1, out); !s.ok()) return s;
    } else if (v.is_string()) {
      out[key] = v.get<std::string>();
    } else if (v.is_boolean() || v.is_number()) {
      out[key] = v.dump();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          Excerpt(key), ": settings values must be strings, numbers or booleans, not ",
          v.type_name()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsHostKey(const std::string& key) {
  for (absl::string_view ns : HostNamespaces()) {
    if (absl::StartsWith(key, ns)) return true;
  }
  return false;
}

bool IsSecretSettingName(const std::string& key) {
  std::string lower = absl::AsciiStrToLower(key);
  std::vector<absl::string_view> segments = absl::StrSplit(lower, ':');
  absl::string_view name = segments.back();
  for (absl::string_view word : {"password", "secret", "token"}) {
    if (absl::StrContains(name, word)) return true;
  }
  bool in_headers = false;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    in_headers = in_headers || absl::StrContains(segments[i], "headers");
  }
  return in_headers && (name == "authorization" || name == "proxy-authorization" ||
                        name == "cookie" || absl::StrContains(name, "key"));
}

absl::StatusOr<SettingsMap> FlattenSettings(const nlohmann::json& settings) {
  if (!settings.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("settings must be a JSON object, not ", settings.type_name()));
  }
  SettingsMap out;
  if (auto s = FlattenInto(settings, "", 1, out); !s.ok()) return s;
  return out;
}

absl::StatusOr<ConnectorSettings> ParseSettings(const SettingsMap& settings) {
  ConnectorSettings c;
  for (const HostSetting& s : HostSettings()) {
    if (s.default_value.empty() || s.ignored) continue;
    absl::Status applied = ApplyHostSetting(s, std::string(s.name), std::string(s.default_value), c);
    if (!applied.ok()) return absl::InternalError(applied.message());  // the table is wrong
  }
  for (const auto& [key, value] : settings) {
    if (auto s = CheckPrintable(key, "key", key); !s.ok()) return s;
    if (auto s = CheckPrintable(key, "value", value); !s.ok()) return s;
    if (const HostSetting* host = FindHostSetting(key); host != nullptr) {
      if (auto s = ApplyHostSetting(*host, key, value, c); !s.ok()) return s;
    } else if (IsHostKey(key)) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": unknown setting"));
    } else {
      c.sink_settings[key] = value;
    }
  }
  if (c.instance_type.empty()) {
    return absl::InvalidArgumentError(
        "instanceTypeName: required (the sink to deliver to, e.g. file-sink)");
  }
  if (c.max_delay_ms < c.first_delay_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resilience:maxDelayMs: ", c.max_delay_ms, " is less than resilience:firstDelayMs (",
        c.first_delay_ms, ")"));
  }
  if (auto f = Filter::Create(c.filter); !f.ok()) return f.status();
  return c;
}

absl::Status CheckDeadLetterStreamName(const std::string& stream) {
  constexpr char kKey[] = "errors:deadLetter:stream";
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(kKey, ": '", Excerpt(stream), "' cannot take dead letters: ", why));
  };
  if (stream.empty()) {
    return refuse("a stream name is needed (leave the key out for the connector's own stream)");
  }
  if (stream.size() > kMaxStreamNameBytes) {
    return refuse(absl::StrCat("longer than ", kMaxStreamNameBytes, " bytes"));
  }
  if (FindControl(stream) != absl::string_view::npos || !IsUtf8(stream)) {
    return refuse("stream names must be UTF-8 without control characters");
  }
  if (stream == "$all") return refuse("$all is the log itself, not a stream");
  if (absl::StartsWith(stream, "$$")) return refuse("metadata streams cannot be written to");
  if (stream == "$connectors" || absl::StartsWith(stream, "$connectors/") ||
      absl::StartsWith(stream, "$connectors-")) {
    return refuse(
        "the $connectors streams are the library's own (to use this connector's own dead-letter "
        "stream, leave the key out)");
  }
  return absl::OkStatus();
}

}  // namespace esdb
