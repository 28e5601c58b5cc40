// Connector settings: the product's flat `a:b` key map, parsed and validated into typed values.
// Host keys are interpreted here; every other key belongs to the sink and is validated by the
// plugin (see sinks/plugin.h).
#ifndef ESDB_CORE_SETTINGS_H_
#define ESDB_CORE_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/filter.h"
#include "core/position.h"
#include "nlohmann/json_fwd.hpp"

namespace esdb {

using SettingsMap = std::map<std::string, std::string>;

// How a connector's secret settings are stored: their values in the settings map are sealed
// (secrets/sealed_settings.h) under a data key of their own, which is kept wrapped by one of the
// host's master keys.
struct SealedSecrets {
  std::vector<std::string> keys;  // the settings that are secret, sorted; empty: none
  std::string key_id;             // the master key that wraps the data key
  std::string wrapped_data_key;   // base64
};

// True for settings that carry a credential by their name alone, whatever the plugin's table
// says: a last segment containing "password", "secret" or "token", and in a header map (a key
// with a "headers" segment, e.g. defaultHeaders:Authorization) a header that carries one
// (Authorization, Proxy-Authorization, Cookie, or a name containing "key", "token", "secret"
// or "password"). Case-insensitive.
bool IsSecretSettingName(const std::string& key);

enum class InitialPosition { kLatest, kEarliest, kPosition };
enum class Affinity { kLeader, kFollower, kReadOnlyReplica };
// errors:tolerance: what a record the sink refuses for good does. kNone fails the connector;
// kAll sets the record aside in the dead-letter stream and goes on with the next one.
enum class ErrorTolerance { kNone, kAll };
// restart:policy: whether the host restarts a FAILED connector by itself.
enum class RestartPolicy { kNever, kOnFailure };

// The longest stream name errors:deadLetter:stream may give.
inline constexpr size_t kMaxStreamNameBytes = 1024;

struct ConnectorSettings {
  std::string instance_type;  // instanceTypeName, e.g. "file-sink"
  FilterSpec filter;
  InitialPosition initial = InitialPosition::kLatest;
  Position initial_position;  // for kPosition

  bool autocommit_enabled = true;
  int64_t autocommit_interval_ms = 5000;
  int64_t autocommit_records_threshold = 1000;

  bool resilience_enabled = true;
  int64_t first_delay_ms = 100;
  int64_t max_delay_ms = 30000;
  double multiplier = 2.0;
  int64_t max_attempts = 0;  // 0: retry forever
  // How long a sink write may go without its completion before the instance is abandoned and
  // the write retried on a fresh one.
  int64_t write_timeout_ms = 300000;

  ErrorTolerance errors_tolerance = ErrorTolerance::kNone;
  // errors:deadLetter:stream; empty: the connector's own, DeadLetterStream(id, generation).
  std::string dead_letter_stream;

  RestartPolicy restart_policy = RestartPolicy::kOnFailure;
  int64_t restart_max_delay_ms = 300000;

  int64_t batch_size = 100;
  int64_t batch_timeout_ms = 0;
  int64_t batch_max_bytes = 4 << 20;
  // Sink writes whose completion may be outstanding at once; above 1 only for a plugin that
  // declares ESDB_SINK_PIPELINED_WRITES.
  int64_t max_in_flight = 1;

  Affinity affinity = Affinity::kLeader;

  SettingsMap sink_settings;         // keys the host does not own, for the plugin
  std::vector<std::string> ignored;  // product keys accepted but without effect here
};

// True for keys in the namespaces the host owns (HostNamespaces(): subscription:, autocommit:,
// resilience:, batching:, errors:, restart:, logging:, transformer:). An unknown key there is the
// host's error to report, never a sink setting.
bool IsHostKey(const std::string& key);

// Turns a JSON object into a flat map: nested objects join their keys with ':'; strings stay as
// they are, numbers and booleans become their JSON text. Arrays, nulls and non-objects are
// InvalidArgument naming the key, and so are objects nested more than kMaxRequestJsonDepth deep.
absl::StatusOr<SettingsMap> FlattenSettings(const nlohmann::json& settings);

// Parses the host's keys (core/host_settings.h: defaults first, then each key given). Control
// characters (NUL, newline, ...) in any key or value, unknown
// `subscription:`/`autocommit:`/... keys, bad numbers, bad booleans, bad enums, regexes RE2
// refuses, a missing instanceTypeName, keys we cannot honour (transformer:enabled=true) and a
// dead-letter stream the connector may not write (see CheckDeadLetterStreamName) are
// InvalidArgument with the key named in the message. Keys outside the host's namespaces go to
// sink_settings unchecked.
absl::StatusOr<ConnectorSettings> ParseSettings(const SettingsMap& settings);

// A stream a user may name as errors:deadLetter:stream: not empty, at most kMaxStreamNameBytes,
// UTF-8 without control characters, and none of the streams the node or the library keeps for
// itself: `$all`, metadata streams (`$$...`), and `$connectors`, `$connectors-hosts` or any
// `$connectors/...` stream (the connector's own dead-letter stream is the default: leave the key
// out to use it). InvalidArgument naming the key otherwise.
absl::Status CheckDeadLetterStreamName(const std::string& stream);

}  // namespace esdb

#endif  // ESDB_CORE_SETTINGS_H_
