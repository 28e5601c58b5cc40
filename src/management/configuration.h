// KurrentDB's `configuration`: the connector's settings as one nested JSON object instead of a
// flat map with ':'-separated keys. Converts both ways; pure.
#ifndef ESDB_MANAGEMENT_CONFIGURATION_H_
#define ESDB_MANAGEMENT_CONFIGURATION_H_

#include "absl/status/statusor.h"
#include "core/settings.h"
#include "nlohmann/json.hpp"

namespace esdb {

// The flat settings of a nested `configuration` object, as KurrentDB flattens it: object keys
// joined with ':', array items keyed by their index (`hosts:0`, `hosts:1`), numbers and booleans
// as their JSON text, null leaves dropped. InvalidArgument (naming the key) for an empty key,
// nesting deeper than kMaxRequestJsonDepth, or a `configuration` that is not an object.
absl::StatusOr<SettingsMap> FlattenConfiguration(const nlohmann::json& configuration);

// The nested view of a flat map of strings (already redacted: see SettingsView). Keys are split
// at ':' (at most kMaxRequestJsonDepth levels; deeper segments stay joined in the last key). An
// object whose keys are exactly 0..n-1 becomes an array. A value becomes a JSON boolean when it
// is `true` or `false` (any case), a number when it is a number written the way JSON writes it
// (`5`, `-2`, `0.5`; not `05` or `1.50`, which stay strings, so nothing is lost), else a string.
// A key that also has keys below it (`a` and `a:b`) shows only what is below it.
nlohmann::json NestSettings(const nlohmann::json& flat);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_CONFIGURATION_H_
