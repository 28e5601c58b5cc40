// A plugin's settings table on the host side: copying it out of the C ABI and checking connector
// settings against it before the plugin ever sees them.
#ifndef ESDB_SINKS_SETTING_SCHEMA_H_
#define ESDB_SINKS_SETTING_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/settings.h"
#include "esdb/sink.h"
#include "sinks/plugin.h"

namespace esdb {

// Copies one table entry. InvalidArgument describing the defect for a malformed entry: too small,
// no name, unknown type, an enum without values, or a default that its own type rejects.
absl::StatusOr<SettingInfo> CopySettingInfo(const esdb_sink_setting& entry);

// The entry that governs `key`: an exact name, else the longest prefix family ("headers:")
// that `key` extends. nullptr when none does.
const SettingInfo* FindSetting(const std::vector<SettingInfo>& table, const std::string& key);

// Checks every key of `settings` against `table` (unknown keys, required keys, int/bool/enum
// types) and returns what the plugin should receive: booleans and enum words in their canonical
// spelling, defaults added for absent keys. Host keys never get here (ParseSettings keeps them;
// their values reach a plugin through esdb_sink_host). Errors are InvalidArgument naming the
// key, and never quote the value of a secret setting. `plugin_name` only words the messages.
absl::StatusOr<SettingsMap> PrepareSettings(const std::string& plugin_name,
                                            const std::vector<SettingInfo>& table,
                                            const SettingsMap& settings);

}  // namespace esdb

#endif  // ESDB_SINKS_SETTING_SCHEMA_H_
