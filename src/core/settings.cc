#include "core/settings.h"

#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/text.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {


// Keys of the shipping product that have no effect here; accepted so existing definitions work.
bool IsIgnoredProductKey(absl::string_view key) {
  return absl::StartsWith(key, "logging:") || key == "headers:ignoreSystem" ||
         (absl::StartsWith(key, "resilience:") && absl::StrContains(key, "DelayBound:")) ||
         (absl::StartsWith(key, "transformer:") && key != "transformer:enabled");
}

absl::Status Bad(absl::string_view key, absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": '", value, "' is not valid, expected ", expected));
}

absl::StatusOr<int64_t> ParseInt(absl::string_view key, absl::string_view value, int64_t min,
                                 int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < min || v > max) {
    return Bad(key, value, absl::StrCat("a whole number from ", min, " to ", max));
  }
  return v;
}

absl::StatusOr<bool> ParseBool(absl::string_view key, absl::string_view value) {
  std::string v = absl::AsciiStrToLower(value);
  if (v == "true") return true;
  if (v == "false") return false;
  return Bad(key, value, "true or false");
}

// Case-insensitive choice among `names`; returns the index.
absl::StatusOr<size_t> ParseEnum(absl::string_view key, absl::string_view value,
                                 std::initializer_list<absl::string_view> names) {
  size_t i = 0;
  for (absl::string_view n : names) {
    if (absl::EqualsIgnoreCase(n, value)) return i;
    ++i;
  }
  return Bad(key, value, absl::StrCat("one of ", absl::StrJoin(names, ", ")));
}

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
  for (absl::string_view ns : {"subscription:", "autocommit:", "resilience:", "batching:",
                               "errors:", "restart:", "logging:", "transformer:"}) {
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
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  for (const auto& [key, value] : settings) {
    if (auto s = CheckPrintable(key, "key", key); !s.ok()) return s;
    if (auto s = CheckPrintable(key, "value", value); !s.ok()) return s;
    // Each branch parses one host key; ASSIGN keeps the error path short.
#define ESDB_ASSIGN(target, expr)        \
  {                                      \
    auto r = (expr);                     \
    if (!r.ok()) return r.status();      \
    target = *r;                         \
  }
    if (key == "instanceTypeName") {
      if (value.empty()) return Bad(key, value, "the name of a sink such as file-sink");
      c.instance_type = value;
    } else if (key == "subscription:filter:scope") {
      size_t i = 0;
      ESDB_ASSIGN(i, ParseEnum(key, value, {"stream", "record", "unspecified"}));
      c.filter.scope = i == 1 ? FilterScope::kRecord : FilterScope::kStream;
    } else if (key == "subscription:filter:filterType") {
      size_t i = 0;
      ESDB_ASSIGN(i, ParseEnum(key, value, {"streamId", "regex", "prefix", "unspecified"}));
      constexpr FilterType kTypes[] = {FilterType::kStreamId, FilterType::kRegex,
                                       FilterType::kPrefix, FilterType::kNone};
      c.filter.type = kTypes[i];
    } else if (key == "subscription:filter:expression") {
      c.filter.expression = value;
    } else if (key == "subscription:filter:includeSystem") {
      ESDB_ASSIGN(c.filter.include_system, ParseBool(key, value));
    } else if (key == "subscription:initialPosition") {
      if (absl::EqualsIgnoreCase(value, "latest")) {
        c.initial = InitialPosition::kLatest;
      } else if (absl::EqualsIgnoreCase(value, "earliest")) {
        c.initial = InitialPosition::kEarliest;
      } else {
        auto p = Position::Parse(value);
        if (!p.ok()) return Bad(key, value, "latest, earliest or a log position");
        c.initial = InitialPosition::kPosition;
        c.initial_position = *p;
      }
    } else if (key == "autocommit:enabled") {
      ESDB_ASSIGN(c.autocommit_enabled, ParseBool(key, value));
    } else if (key == "autocommit:interval") {
      ESDB_ASSIGN(c.autocommit_interval_ms, ParseInt(key, value, 0, kMax));
    } else if (key == "autocommit:recordsThreshold") {
      ESDB_ASSIGN(c.autocommit_records_threshold, ParseInt(key, value, 1, kMax));
    } else if (key == "resilience:enabled") {
      ESDB_ASSIGN(c.resilience_enabled, ParseBool(key, value));
    } else if (key == "resilience:firstDelayMs") {
      ESDB_ASSIGN(c.first_delay_ms, ParseInt(key, value, 0, kMax));
    } else if (key == "resilience:maxDelayMs") {
      ESDB_ASSIGN(c.max_delay_ms, ParseInt(key, value, 0, kMax));
    } else if (key == "resilience:multiplier") {
      double m = 0;
      if (!absl::SimpleAtod(value, &m) || !(m >= 1.0 && m <= 100.0)) {
        return Bad(key, value, "a number from 1 to 100");
      }
      c.multiplier = m;
    } else if (key == "resilience:maxAttempts") {
      ESDB_ASSIGN(c.max_attempts, ParseInt(key, value, 0, kMax));
    } else if (key == "resilience:writeTimeoutMs") {
      ESDB_ASSIGN(c.write_timeout_ms, ParseInt(key, value, 100, kMax));
    } else if (key == "errors:tolerance") {
      size_t i = 0;
      ESDB_ASSIGN(i, ParseEnum(key, value, {"none", "all"}));
      c.errors_tolerance = i == 1 ? ErrorTolerance::kAll : ErrorTolerance::kNone;
    } else if (key == "errors:deadLetter:stream") {
      if (auto s = CheckDeadLetterStreamName(value); !s.ok()) return s;
      c.dead_letter_stream = value;
    } else if (key == "restart:policy") {
      size_t i = 0;
      ESDB_ASSIGN(i, ParseEnum(key, value, {"never", "onFailure"}));
      c.restart_policy = i == 1 ? RestartPolicy::kOnFailure : RestartPolicy::kNever;
    } else if (key == "restart:maxDelayMs") {
      ESDB_ASSIGN(c.restart_max_delay_ms, ParseInt(key, value, 1000, kMax));
    } else if (key == "batching:batchSize") {
      ESDB_ASSIGN(c.batch_size, ParseInt(key, value, 1, 100000));
    } else if (key == "batching:batchTimeoutMs") {
      ESDB_ASSIGN(c.batch_timeout_ms, ParseInt(key, value, 0, 60000));
    } else if (key == "batching:maxBytes") {
      ESDB_ASSIGN(c.batch_max_bytes, ParseInt(key, value, 1024, int64_t{256} << 20));
    } else if (key == "affinity") {
      size_t i = 0;
      ESDB_ASSIGN(i, ParseEnum(key, value, {"leader", "follower", "readOnlyReplica"}));
      c.affinity = static_cast<Affinity>(i);
    } else if (key == "transformer:enabled") {
      bool on = false;
      ESDB_ASSIGN(on, ParseBool(key, value));
      if (on) {
        return absl::InvalidArgumentError(
            "transformer:enabled: transformers (JavaScript functions) are not supported by "
            "esdb-connectors; remove the key or set it to false");
      }
      c.ignored.push_back(key);
    } else if (IsIgnoredProductKey(key)) {
      c.ignored.push_back(key);
    } else {
      if (IsHostKey(key)) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": unknown setting"));
      }
      c.sink_settings[key] = value;
    }
#undef ESDB_ASSIGN
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
