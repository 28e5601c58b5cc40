#include "core/host_settings.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace esdb {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

using T = HostSettingType;
using V = const HostValue&;
using C = ConnectorSettings&;

absl::Status Ok() { return absl::OkStatus(); }

const HostSetting kSettings[] = {
    {.name = "instanceTypeName",
     .type = T::kString,
     .required = true,
     .description = "The sink: the name a loaded plugin declares.",
     .apply = [](V v, C c) {
       if (v.text.empty()) {
         return absl::InvalidArgumentError(
             "instanceTypeName: '' is not valid, expected the name of a sink such as file-sink");
       }
       c.instance_type = v.text;
       return Ok();
     }},
    {.name = "subscription:filter:scope",
     .type = T::kEnum,
     .default_value = "stream",
     .values = "stream|record|unspecified",
     .description = "Whether the filter looks at stream ids or event types.",
     .apply = [](V v, C c) {
       c.filter.scope = v.choice == 1 ? FilterScope::kRecord : FilterScope::kStream;
       return Ok();
     }},
    {.name = "subscription:filter:filterType",
     .type = T::kEnum,
     .values = "streamId|regex|prefix|unspecified",
     .description = "Absent or unspecified: every event of a user stream.",
     .apply = [](V v, C c) {
       constexpr FilterType kTypes[] = {FilterType::kStreamId, FilterType::kRegex,
                                        FilterType::kPrefix, FilterType::kNone};
       c.filter.type = kTypes[v.choice];
       return Ok();
     }},
    {.name = "subscription:filter:expression",
     .type = T::kString,
     .description = "One stream id, an RE2 expression, or comma-separated prefixes.",
     .apply = [](V v, C c) {
       c.filter.expression = v.text;
       return Ok();
     }},
    {.name = "subscription:filter:includeSystem",
     .type = T::kBool,
     .default_value = "false",
     .description = "Deliver $-streams too.",
     .apply = [](V v, C c) {
       c.filter.include_system = v.flag;
       return Ok();
     }},
    {.name = "subscription:initialPosition",
     .type = T::kPosition,
     .default_value = "latest",
     .description = "Where delivery starts when there is no checkpoint.",
     .apply = [](V v, C c) {
       if (absl::EqualsIgnoreCase(v.text, "latest")) {
         c.initial = InitialPosition::kLatest;
       } else if (absl::EqualsIgnoreCase(v.text, "earliest")) {
         c.initial = InitialPosition::kEarliest;
       } else {
         absl::StatusOr<Position> p = Position::Parse(v.text);
         if (!p.ok()) {
           return absl::InvalidArgumentError(
               absl::StrCat("subscription:initialPosition: '", v.text,
                            "' is not valid, expected latest, earliest or a log position"));
         }
         c.initial = InitialPosition::kPosition;
         c.initial_position = *p;
       }
       return Ok();
     }},
    {.name = "autocommit:enabled",
     .type = T::kBool,
     .default_value = "true",
     .description = "Checkpoint while delivering.",
     .apply = [](V v, C c) {
       c.autocommit_enabled = v.flag;
       return Ok();
     }},
    {.name = "autocommit:interval",
     .type = T::kInt,
     .default_value = "5000",
     .min = 0,
     .max = kMaxInt,
     .unit = "ms",
     .description = "Checkpoint at least this often while delivering.",
     .apply = [](V v, C c) {
       c.autocommit_interval_ms = v.integer;
       return Ok();
     }},
    {.name = "autocommit:recordsThreshold",
     .type = T::kInt,
     .default_value = "1000",
     .min = 1,
     .max = kMaxInt,
     .description = "Checkpoint after this many acknowledged records.",
     .apply = [](V v, C c) {
       c.autocommit_records_threshold = v.integer;
       return Ok();
     }},
    {.name = "resilience:enabled",
     .type = T::kBool,
     .default_value = "true",
     .description = "Retry a sink that asks for it; off, the first retry fails the connector.",
     .apply = [](V v, C c) {
       c.resilience_enabled = v.flag;
       return Ok();
     }},
    {.name = "resilience:firstDelayMs",
     .type = T::kInt,
     .default_value = "100",
     .min = 0,
     .max = kMaxInt,
     .unit = "ms",
     .description = "First backoff step.",
     .apply = [](V v, C c) {
       c.first_delay_ms = v.integer;
       return Ok();
     }},
    {.name = "resilience:maxDelayMs",
     .type = T::kInt,
     .default_value = "30000",
     .min = 0,
     .max = kMaxInt,
     .unit = "ms",
     .description = "Largest backoff step; at least resilience:firstDelayMs.",
     .apply = [](V v, C c) {
       c.max_delay_ms = v.integer;
       return Ok();
     }},
    {.name = "resilience:multiplier",
     .type = T::kNumber,
     .default_value = "2",
     .min = 1,
     .max = 100,
     .description = "Growth of the backoff step per attempt.",
     .apply = [](V v, C c) {
       c.multiplier = v.number;
       return Ok();
     }},
    {.name = "resilience:maxAttempts",
     .type = T::kInt,
     .default_value = "0",
     .min = 0,
     .max = kMaxInt,
     .description = "Attempts at one batch before the connector fails; 0 retries forever.",
     .apply = [](V v, C c) {
       c.max_attempts = v.integer;
       return Ok();
     }},
    {.name = "resilience:writeTimeoutMs",
     .type = T::kInt,
     .default_value = "300000",
     .min = 100,
     .max = kMaxInt,
     .unit = "ms",
     .description = "How long a sink write may go without its completion before the instance is "
                    "given up and the write retried on a new one.",
     .apply = [](V v, C c) {
       c.write_timeout_ms = v.integer;
       return Ok();
     }},
    {.name = "errors:tolerance",
     .type = T::kEnum,
     .default_value = "none",
     .values = "none|all",
     .description = "none: a record the sink refuses for good fails the connector; all: it goes "
                    "to the dead-letter stream.",
     .apply = [](V v, C c) {
       c.errors_tolerance = v.choice == 1 ? ErrorTolerance::kAll : ErrorTolerance::kNone;
       return Ok();
     }},
    {.name = "errors:deadLetter:stream",
     .type = T::kString,
     .description = "Where dead letters go; absent: the connector's own "
                    "$connectors/{id}/dead-letters.",
     .apply = [](V v, C c) {
       if (absl::Status s = CheckDeadLetterStreamName(v.text); !s.ok()) return s;
       c.dead_letter_stream = v.text;
       return Ok();
     }},
    {.name = "restart:policy",
     .type = T::kEnum,
     .default_value = "onFailure",
     .values = "never|onFailure",
     .description = "Whether the host restarts a FAILED connector by itself.",
     .apply = [](V v, C c) {
       c.restart_policy = v.choice == 1 ? RestartPolicy::kOnFailure : RestartPolicy::kNever;
       return Ok();
     }},
    {.name = "restart:maxDelayMs",
     .type = T::kInt,
     .default_value = "300000",
     .min = 1000,
     .max = kMaxInt,
     .unit = "ms",
     .description = "Longest wait before an automatic restart.",
     .apply = [](V v, C c) {
       c.restart_max_delay_ms = v.integer;
       return Ok();
     }},
    {.name = "batching:batchSize",
     .type = T::kInt,
     .default_value = "100",
     .min = 1,
     .max = 100000,
     .description = "Most records per sink write.",
     .apply = [](V v, C c) {
       c.batch_size = v.integer;
       return Ok();
     }},
    {.name = "batching:batchTimeoutMs",
     .type = T::kInt,
     .default_value = "0",
     .min = 0,
     .max = 60000,
     .unit = "ms",
     .description = "How long a batch that has records waits to fill; 0: it goes as soon as the "
                    "sink is free, and what arrives meanwhile makes the next batch.",
     .apply = [](V v, C c) {
       c.batch_timeout_ms = v.integer;
       return Ok();
     }},
    {.name = "batching:maxBytes",
     .type = T::kInt,
     .default_value = "4194304",
     .min = 1024,
     .max = int64_t{256} << 20,
     .description = "Most bytes per sink write; a single larger record is sent alone.",
     .apply = [](V v, C c) {
       c.batch_max_bytes = v.integer;
       return Ok();
     }},
    {.name = "batching:maxInFlight",
     .type = T::kInt,
     .default_value = "1",
     .min = 1,
     .max = 64,
     .description = "Sink writes whose completion may be outstanding at once; above 1 only for a "
                    "sink that declares pipelined writes.",
     .apply = [](V v, C c) {
       c.max_in_flight = v.integer;
       return Ok();
     }},
    {.name = "affinity",
     .type = T::kEnum,
     .default_value = "leader",
     .values = "leader|follower|readOnlyReplica",
     .description = "Which hosts may run the connector, by their member's role.",
     .apply = [](V v, C c) {
       c.affinity = static_cast<Affinity>(v.choice);
       return Ok();
     }},
    // KurrentDB's keys that have no effect here.
    {.name = "transformer:enabled",
     .type = T::kBool,
     .default_value = "false",
     .ignored = true,
     .description = "Transformers (JavaScript functions) are not supported: only false.",
     .apply = [](V v, C) {
       if (!v.flag) return Ok();
       return absl::InvalidArgumentError(
           "transformer:enabled: transformers (JavaScript functions) are not supported by "
           "esdb-connectors; remove the key or set it to false");
     }},
    {.name = "transformer:",
     .type = T::kString,
     .ignored = true,
     .description = "A transformer's settings."},
    {.name = "logging:",
     .type = T::kString,
     .ignored = true,
     .description = "KurrentDB's per-connector logging."},
    {.name = "resilience:*DelayBound:*",
     .type = T::kString,
     .ignored = true,
     .description = "KurrentDB's delay bounds."},
    {.name = "headers:ignoreSystem",
     .type = T::kString,
     .ignored = true,
     .description = "KurrentDB's choice of system headers."},
};

constexpr absl::string_view kNamespaces[] = {"subscription:", "autocommit:", "resilience:",
                                            "batching:",     "errors:",     "restart:",
                                            "logging:",      "transformer:"};

bool IsPattern(absl::string_view name) {
  return absl::EndsWith(name, ":") || absl::StrContains(name, '*');
}

// `pattern` against `key`: a trailing ':' is a prefix, each '*' any run of characters.
bool Matches(absl::string_view pattern, absl::string_view key) {
  if (!absl::StrContains(pattern, '*')) return absl::StartsWith(key, pattern);
  std::vector<absl::string_view> pieces = absl::StrSplit(pattern, '*');
  if (!absl::StartsWith(key, pieces.front())) return false;
  size_t at = pieces.front().size();
  for (size_t i = 1; i < pieces.size(); ++i) {
    if (i + 1 == pieces.size()) {  // the last piece ends the key
      return key.size() - at >= pieces[i].size() && absl::EndsWith(key, pieces[i]);
    }
    size_t found = key.find(pieces[i], at);
    if (found == absl::string_view::npos) return false;
    at = found + pieces[i].size();
  }
  return true;
}

absl::Status Bad(absl::string_view key, absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(key, ": '", value, "' is not valid, expected ", expected));
}

}  // namespace

std::span<const HostSetting> HostSettings() { return kSettings; }

std::span<const absl::string_view> HostNamespaces() { return kNamespaces; }

const HostSetting* FindHostSetting(absl::string_view key) {
  const HostSetting* pattern = nullptr;
  for (const HostSetting& s : kSettings) {
    if (!IsPattern(s.name)) {
      if (s.name == key) return &s;
    } else if (Matches(s.name, key) &&
               (pattern == nullptr || s.name.size() > pattern->name.size())) {
      pattern = &s;
    }
  }
  return pattern;
}

std::vector<absl::string_view> EnumValues(const HostSetting& s) {
  if (s.values.empty()) return {};
  return absl::StrSplit(s.values, '|');
}

absl::string_view TypeName(const HostSetting& s) {
  switch (s.type) {
    case T::kBool:
      return "bool";
    case T::kInt:
      return "int";
    case T::kNumber:
      return "number";
    case T::kEnum:
      return "enum";
    case T::kString:
    case T::kPosition:
      break;
  }
  return "string";
}

absl::Status ApplyHostSetting(const HostSetting& s, const std::string& key,
                              const std::string& value, ConnectorSettings& settings) {
  HostValue v{.text = value};
  switch (s.type) {
    case T::kString:
    case T::kPosition:
      break;
    case T::kBool: {
      std::string lower = absl::AsciiStrToLower(value);
      if (lower != "true" && lower != "false") return Bad(key, value, "true or false");
      v.flag = lower == "true";
      break;
    }
    case T::kInt:
      if (!absl::SimpleAtoi(value, &v.integer) || v.integer < s.min || v.integer > s.max) {
        return Bad(key, value, absl::StrCat("a whole number from ", s.min, " to ", s.max));
      }
      break;
    case T::kNumber:
      if (!absl::SimpleAtod(value, &v.number) ||
          !(v.number >= static_cast<double>(s.min) && v.number <= static_cast<double>(s.max))) {
        return Bad(key, value, absl::StrCat("a number from ", s.min, " to ", s.max));
      }
      break;
    case T::kEnum: {
      std::vector<absl::string_view> words = EnumValues(s);
      v.choice = words.size();
      for (size_t i = 0; i < words.size() && v.choice == words.size(); ++i) {
        if (absl::EqualsIgnoreCase(words[i], value)) v.choice = i;
      }
      if (v.choice == words.size()) {
        return Bad(key, value, absl::StrCat("one of ", absl::StrJoin(words, ", ")));
      }
      break;
    }
  }
  if (s.apply != nullptr) {
    if (absl::Status applied = s.apply(v, settings); !applied.ok()) return applied;
  }
  if (s.ignored) settings.ignored.push_back(key);
  return absl::OkStatus();
}

}  // namespace esdb
