// The keys the host reads itself, as one table. Parsing and validation (ParseSettings), the host
// entry of GET /connector-plugins, the management page's form and docs/operations.md (checked by
// a test) all come from it.
#ifndef ESDB_CORE_HOST_SETTINGS_H_
#define ESDB_CORE_HOST_SETTINGS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/settings.h"

namespace esdb {

enum class HostSettingType {
  kString,
  kBool,
  kInt,       // whole number within [min, max]
  kNumber,    // decimal number within [min, max]
  kEnum,      // one of `values`, matched without regard to case
  kPosition,  // latest, earliest or a log position
};

// A value that passed its entry's type and range checks.
struct HostValue {
  const std::string& text;  // as given
  int64_t integer = 0;      // kInt
  double number = 0;        // kNumber
  bool flag = false;        // kBool
  size_t choice = 0;        // kEnum: index into the entry's values
};

struct HostSetting {
  // An exact key; or, ending in ':', every key under it; or, with '*', every key the pattern
  // matches ('*' standing for any run of characters). An exact entry wins over a pattern.
  absl::string_view name;
  HostSettingType type;
  absl::string_view default_value;  // "" when there is none
  int64_t min = 0, max = 0;        // kInt, kNumber
  absl::string_view values;         // kEnum: the words, separated by '|'
  absl::string_view unit;           // "ms", or "" when the value has none
  bool required = false;
  // Never shown in clear (none of the host's keys is today; the column is there so that one
  // would be redacted like a plugin's secret settings).
  bool secret = false;
  // Accepted so that definitions written for KurrentDB work unchanged, but without effect here:
  // listed in `ignoredSettings` of create and update responses.
  bool ignored = false;
  absl::string_view description;
  // Stores a checked value; may still refuse it (InvalidArgument naming the key). Null for keys
  // that are only ignored.
  absl::Status (*apply)(const HostValue& value, ConnectorSettings& settings) = nullptr;
};

// Every entry, in the order docs/operations.md lists them.
std::span<const HostSetting> HostSettings();

// The entry that governs `key`, or nullptr.
const HostSetting* FindHostSetting(absl::string_view key);

// The namespaces the host owns: a key under one of them that no entry governs is an error, never
// a sink setting.
std::span<const absl::string_view> HostNamespaces();

// The entry's enum words.
std::vector<absl::string_view> EnumValues(const HostSetting& s);

// What the entry's type is called in GET /connector-plugins ("string", "bool", "int", "number",
// "enum"; a position is a "string").
absl::string_view TypeName(const HostSetting& s);

// Checks `value` against the entry's type and range and applies it. InvalidArgument naming the
// key and what was expected.
absl::Status ApplyHostSetting(const HostSetting& s, const std::string& key,
                              const std::string& value, ConnectorSettings& settings);

}  // namespace esdb

#endif  // ESDB_CORE_HOST_SETTINGS_H_
