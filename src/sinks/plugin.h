// Sink plugins: a loaded libesdb_sink_<name>.so (dlopen + ABI handshake) and the set of plugins
// a host has loaded.
#ifndef ESDB_SINKS_PLUGIN_H_
#define ESDB_SINKS_PLUGIN_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/settings.h"
#include "esdb/sink.h"
#include "sinks/sink.h"

namespace esdb {

// One entry of a plugin's settings table, copied out of the plugin.
struct SettingInfo {
  std::string name;  // a name ending in ':' is a prefix for a family of keys
  std::string type;  // "string" | "int" | "bool" | "enum"
  std::string default_value;
  bool has_default = false;
  bool required = false;
  bool secret = false;
  int32_t target = ESDB_SINK_TARGET_NONE;  // what the value points at (esdb/sink.h)
  std::string description;
  std::vector<std::string> enum_values;
};

// What the host tells a sink instance about the connector it delivers for (esdb_sink_host).
struct SinkContext {
  std::string connector_id;
  int64_t generation = 0;
  int64_t epoch = 0;
  int64_t max_batch_records = 100;     // batching:batchSize
  int64_t max_batch_bytes = 4 << 20;   // batching:maxBytes
  int64_t max_in_flight = 1;           // batching:maxInFlight
};

// Receives the log lines of a sink instance.
using SinkLogFn = std::function<void(esdb_sink_log_level level, const std::string& message)>;

class SinkPlugin {
 public:
  // Loads a plugin file. Errors name the file and say what went wrong: missing file, not a
  // shared object, missing entry symbol, entry returned NULL, ABI mismatch (plugin needs a newer
  // host), malformed table (missing name/open/write/close).
  //
  // With a `copy_dir`, the code is loaded from a private copy made there (DlLibrary::OpenCopy),
  // so that the file may be replaced or rewritten while the plugin is loaded; if the copy cannot
  // be used the file is loaded in place and *in_place (when given) says why.
  static absl::StatusOr<std::unique_ptr<SinkPlugin>> Load(const std::string& path,
                                                          const std::string& copy_dir = "",
                                                          std::string* in_place = nullptr);
  ~SinkPlugin();  // dlclose

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::string& description() const { return description_; }
  const std::string& path() const { return path_; }
  const std::vector<SettingInfo>& settings() const { return settings_; }
  // The table declares ESDB_SINK_PIPELINED_WRITES: an instance takes several writes whose
  // completion is outstanding (batching:maxInFlight above 1).
  bool pipelined_writes() const { return pipelined_writes_; }

  // Checks the sink's keys: unknown keys, required keys, types (int, bool, enum), then the
  // plugin's own validate(). InvalidArgument naming the key.
  absl::Status Validate(const SettingsMap& sink_settings) const;

  // How long a write may go without its completion before the host gives up on the instance
  // (the write then counts as RETRY, to be made again on a new instance, and the instance is
  // abandoned, never closed mid-write), for instances opened afterwards without a timeout of
  // their own. Default: 5 minutes (resilience:writeTimeoutMs gives each connector its own).
  void set_write_timeout(absl::Duration timeout) { write_timeout_ = timeout; }

  // True if `key` is a secret setting of this plugin (never echoed back in clear).
  bool IsSecret(const std::string& key) const;
  // ESDB_SINK_TARGET_* of `key`'s table entry (NONE for keys not in the table).
  int32_t TargetOf(const std::string& key) const;

  // Opens an instance (after applying defaults). The returned Sink closes it when destroyed and
  // must not outlive this SinkPlugin. INVALID_CONFIG -> InvalidArgument, RETRY -> Unavailable,
  // FATAL -> Internal, each with the plugin's message. `write_timeout` overrides the plugin's
  // default for this instance.
  absl::StatusOr<std::unique_ptr<Sink>> Open(
      const SinkContext& context, const SettingsMap& sink_settings, SinkLogFn log,
      std::optional<absl::Duration> write_timeout = std::nullopt) const;

 private:
  SinkPlugin() = default;
  void* handle_ = nullptr;
  const esdb_sink_plugin* table_ = nullptr;
  std::string path_, name_, version_, description_;
  std::vector<SettingInfo> settings_;
  absl::Duration write_timeout_ = absl::Minutes(5);
  bool pipelined_writes_ = false;
};

// batching:maxInFlight for `plugin`: above 1 only when the plugin declares
// ESDB_SINK_PIPELINED_WRITES, else InvalidArgument naming the plugin.
absl::Status CheckMaxInFlight(const SinkPlugin& plugin, int64_t max_in_flight);

// A plugin file the host did not load, and why.
struct RefusedPlugin {
  std::string path;
  std::string reason;
};

// The plugins a host has loaded, by instanceTypeName. Immutable after loading; thread-safe.
class PluginSet {
 public:
  using Report = std::function<void(const std::string&)>;

  // Loads every libesdb_sink_*.so in `dir`, each from a private copy (SinkPlugin::Load) made in
  // a temporary folder that is gone again when this returns. A plugin that fails to load is
  // skipped, reported through `on_error` and listed in refused(); a plugin that had to be loaded
  // in place (its file must then be replaced only by renaming a new file over it) is reported
  // through `on_warning`. A missing directory is NotFound.
  static absl::StatusOr<PluginSet> LoadDirectory(const std::string& dir, const Report& on_error,
                                                 const Report& on_warning = nullptr);

  void Add(std::unique_ptr<SinkPlugin> plugin);
  // NotFound with the known names listed when `instance_type` is not loaded.
  absl::StatusOr<const SinkPlugin*> Find(const std::string& instance_type) const;
  std::vector<const SinkPlugin*> All() const;
  // The files LoadDirectory skipped, in file-name order.
  const std::vector<RefusedPlugin>& refused() const { return refused_; }

 private:
  std::map<std::string, std::shared_ptr<SinkPlugin>> plugins_;
  std::vector<RefusedPlugin> refused_;
};

}  // namespace esdb

#endif  // ESDB_SINKS_PLUGIN_H_
