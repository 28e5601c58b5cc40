#include "sinks/plugin.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sinks/dl_library.h"
#include "sinks/plugin_sink.h"
#include "sinks/plugin_text.h"
#include "sinks/setting_schema.h"

namespace esdb {
namespace {

// Every field up to and including close() is part of ABI version 1.
constexpr size_t kPluginV1Size = ESDB_FIELD_END(esdb_sink_plugin, close);

absl::Status Malformed(const std::string& path, absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("sink plugin '", path, "' has a malformed plugin table: ", what));
}

// Why `name` cannot be a plugin's name (instanceTypeName), or empty when it can. Names reach
// URLs, logs, JSON and the management page, so they keep to a plain shape; `host` is the name
// of the host's own entry in GET /connector-plugins.
std::string PluginNameProblem(absl::string_view name) {
  constexpr size_t kMaxName = 64;
  if (name.empty()) return "no name";
  if (name.size() > kMaxName) return absl::StrCat("its name is longer than ", kMaxName, " bytes");
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return "its name has a character other than letters, digits, '-', '_' and '.'";
    }
  }
  if (name == "host") return "its name 'host' is the host's own (GET /connector-plugins)";
  return "";
}

// The kv array a plugin call receives; borrows from `settings`.
std::vector<esdb_sink_kv> ToKv(const SettingsMap& settings) {
  std::vector<esdb_sink_kv> kv;
  kv.reserve(settings.size());
  for (const auto& [key, value] : settings) kv.push_back({key.c_str(), value.c_str()});
  return kv;
}

// The plugin's own validate() on settings that already passed the table's checks.
absl::Status RunPluginValidate(const std::string& name, const esdb_sink_plugin& table,
                               const SettingsMap& prepared) {
  if (!ESDB_HAS_FUNCTION(esdb_sink_plugin, &table, validate)) return absl::OkStatus();
  std::vector<esdb_sink_kv> kv = ToKv(prepared);
  char err[1024] = {};
  esdb_sink_status status = table.validate(kv.data(), kv.size(), err, sizeof(err));
  if (status == ESDB_SINK_OK) return absl::OkStatus();
  std::string reason = PluginText(err, sizeof(err));
  if (reason.empty()) {
    reason = absl::StrCat("the plugin rejected the settings (", esdb_sink_status_name(status),
                          ") without saying why");
  }
  return absl::InvalidArgumentError(WithPluginName(name, reason));
}

// A folder of its own for the private copies of one LoadDirectory, under the temporary folder
// (TMPDIR); removed with whatever is left in it. Empty path() when it could not be made.
class PrivateCopyDir {
 public:
  PrivateCopyDir() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) {
      error_ = absl::StrCat("no temporary folder: ", ec.message());
      return;
    }
    std::string pattern = (base / "esdb-sink-plugins-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      error_ = absl::StrCat("cannot make a folder in ", base.string(), ": ", std::strerror(errno));
      return;
    }
    path_ = pattern;
  }
  ~PrivateCopyDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  PrivateCopyDir(const PrivateCopyDir&) = delete;
  PrivateCopyDir& operator=(const PrivateCopyDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::string error_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SinkPlugin>> SinkPlugin::Load(const std::string& path,
                                                             const std::string& copy_dir,
                                                             std::string* in_place) {
  std::string loaded_in_place;
  absl::StatusOr<DlLibrary> library = copy_dir.empty()
                                          ? DlLibrary::Open(path)
                                          : DlLibrary::OpenCopy(path, copy_dir, &loaded_in_place);
  if (!library.ok()) return library.status();
  if (in_place != nullptr) *in_place = std::move(loaded_in_place);

  auto entry = reinterpret_cast<esdb_sink_entry_fn>(library->Find(ESDB_SINK_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", path, "' is not an esdb sink plugin: it does not export ", ESDB_SINK_ENTRY_SYMBOL));
  }
  const esdb_sink_plugin* table = entry(ESDB_SINK_ABI_VERSION);
  if (table == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sink plugin '", path, "': ", ESDB_SINK_ENTRY_SYMBOL, "(", ESDB_SINK_ABI_VERSION,
        ") returned NULL, so the plugin cannot work with this host (sink ABI ",
        ESDB_SINK_ABI_VERSION, ")"));
  }
  if (table->struct_size < kPluginV1Size) {
    return Malformed(path,
                     absl::StrCat("struct_size is ", table->struct_size, " bytes, less than the ",
                                  kPluginV1Size, " bytes of ABI version 1"));
  }
  if (!ESDB_ABI_SATISFIES(ESDB_SINK_ABI_VERSION, table->min_host_abi_version)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sink plugin '", path, "' needs a host with sink ABI version ", table->min_host_abi_version,
        " or newer, but this host implements version ", ESDB_SINK_ABI_VERSION));
  }
  if (std::string problem = PluginNameProblem(table->name ? table->name : "");
      !problem.empty()) {
    return Malformed(path, problem);
  }
  if (table->open == nullptr) return Malformed(path, "open is NULL");
  if (table->write == nullptr) return Malformed(path, "write is NULL");
  if (table->close == nullptr) return Malformed(path, "close is NULL");
  if (table->settings_count > 0 && table->settings == nullptr) {
    return Malformed(
        path, absl::StrCat("settings is NULL but settings_count is ", table->settings_count));
  }

  auto plugin = absl::WrapUnique(new SinkPlugin());
  plugin->path_ = path;
  plugin->name_ = table->name;
  if (table->version != nullptr) plugin->version_ = table->version;
  if (table->description != nullptr) plugin->description_ = table->description;
  plugin->pipelined_writes_ = ESDB_HAS_FIELD(esdb_sink_plugin, table, flags) &&
                              (table->flags & ESDB_SINK_PIPELINED_WRITES) != 0;
  for (size_t i = 0; i < table->settings_count; ++i) {
    const esdb_sink_setting* entry_i = table->settings[i];
    if (entry_i == nullptr) return Malformed(path, absl::StrCat("settings[", i, "] is NULL"));
    absl::StatusOr<SettingInfo> info = CopySettingInfo(*entry_i);
    if (!info.ok()) return Malformed(path, info.status().message());
    for (const SettingInfo& seen : plugin->settings_) {
      if (seen.name == info->name) {
        return Malformed(path, absl::StrCat("setting '", info->name, "' is listed twice"));
      }
    }
    plugin->settings_.push_back(*std::move(info));
  }
  plugin->table_ = table;
  plugin->handle_ = library->Release();
  return plugin;
}

SinkPlugin::~SinkPlugin() {
  if (handle_ != nullptr) dlclose(handle_);
}

absl::Status SinkPlugin::Validate(const SettingsMap& sink_settings) const {
  absl::StatusOr<SettingsMap> prepared = PrepareSettings(name_, settings_, sink_settings);
  if (!prepared.ok()) return prepared.status();
  return RunPluginValidate(name_, *table_, *prepared);
}

bool SinkPlugin::IsSecret(const std::string& key) const {
  const SettingInfo* info = FindSetting(settings_, key);
  return info != nullptr && info->secret;
}

int32_t SinkPlugin::TargetOf(const std::string& key) const {
  const SettingInfo* info = FindSetting(settings_, key);
  return info != nullptr ? info->target : ESDB_SINK_TARGET_NONE;
}

absl::Status CheckMaxInFlight(const SinkPlugin& plugin, int64_t max_in_flight) {
  if (max_in_flight <= 1 || plugin.pipelined_writes()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "batching:maxInFlight: ", max_in_flight, " is not valid for ", plugin.name(),
      ", which takes one write at a time (it does not declare pipelined writes); use 1"));
}

absl::StatusOr<std::unique_ptr<Sink>> SinkPlugin::Open(
    const SinkContext& context, const SettingsMap& sink_settings, SinkLogFn log,
    std::optional<absl::Duration> write_timeout) const {
  // The same checks as Validate: open() is promised settings that passed them.
  absl::StatusOr<SettingsMap> prepared = PrepareSettings(name_, settings_, sink_settings);
  if (!prepared.ok()) return prepared.status();
  if (absl::Status valid = RunPluginValidate(name_, *table_, *prepared); !valid.ok()) {
    return valid;
  }
  std::vector<esdb_sink_kv> kv = ToKv(*prepared);

  // A plugin without the flag is told 1, whatever the settings say: the runner never pipelines it.
  SinkContext told = context;
  if (!pipelined_writes()) told.max_in_flight = 1;
  auto services = std::make_unique<SinkHostServices>(told, std::move(log));
  esdb_sink_instance* instance = nullptr;
  char err[1024] = {};
  esdb_sink_status status =
      table_->open(kv.data(), kv.size(), services->host(), &instance, err, sizeof(err));
  std::string reason = PluginText(err, sizeof(err));
  if (status == ESDB_SINK_OK) {
    if (instance == nullptr) {
      return absl::InternalError(
          absl::StrCat(name_, ": open reported OK but returned no instance"));
    }
    return std::make_unique<PluginSink>(table_, name_, std::move(services), instance,
                                        write_timeout.value_or(write_timeout_));
  }
  if (reason.empty()) reason = "no reason given";
  std::string text = absl::StrCat(name_, ": open failed (", esdb_sink_status_name(status),
                                  "): ", WithoutPluginName(name_, reason));
  switch (status) {
    case ESDB_SINK_INVALID_CONFIG:
      return absl::InvalidArgumentError(text);
    case ESDB_SINK_RETRY:
      return absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::StatusOr<PluginSet> PluginSet::LoadDirectory(const std::string& dir, const Report& on_error,
                                                   const Report& on_warning) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("sink plugin directory '", dir, "' does not exist or is not a directory"));
  }
  std::vector<std::string> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    if (absl::StartsWith(file, "libesdb_sink_") && absl::EndsWith(file, ".so")) {
      files.push_back(it->path().string());
    }
  }
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot list sink plugin directory '", dir, "': ", ec.message()));
  }
  std::sort(files.begin(), files.end());  // so that which duplicate wins does not vary

  PluginSet set;
  auto refuse = [&](const std::string& file, const std::string& reason) {
    set.refused_.push_back({file, reason});
    if (on_error) on_error(reason);
  };
  PrivateCopyDir copies;
  if (!copies.ok() && on_warning && !files.empty()) {
    on_warning(absl::StrCat("sink plugins are loaded in place (", copies.error(),
                            "): replace a plugin file only by renaming a new file over it"));
  }
  for (const std::string& file : files) {
    std::string in_place;
    absl::StatusOr<std::unique_ptr<SinkPlugin>> plugin =
        SinkPlugin::Load(file, copies.path(), &in_place);
    if (!plugin.ok()) {
      refuse(file, std::string(plugin.status().message()));
      continue;
    }
    if (!in_place.empty() && on_warning) {
      on_warning(absl::StrCat("sink plugin '", file, "' is loaded in place (", in_place,
                              "): replace it only by renaming a new file over it"));
    }
    auto existing = set.plugins_.find((*plugin)->name());
    if (existing != set.plugins_.end()) {
      refuse(file, absl::StrCat("sink plugin '", file, "' is named '", (*plugin)->name(),
                                "' like '", existing->second->path(), "', which is kept"));
      continue;
    }
    set.Add(*std::move(plugin));
  }
  return set;
}

// A plugin whose name is already taken replaces the earlier one (LoadDirectory keeps the first
// and reports the other before it gets here).
void PluginSet::Add(std::unique_ptr<SinkPlugin> plugin) {
  std::string name = plugin->name();
  plugins_.insert_or_assign(std::move(name), std::shared_ptr<SinkPlugin>(std::move(plugin)));
}

absl::StatusOr<const SinkPlugin*> PluginSet::Find(const std::string& instance_type) const {
  auto it = plugins_.find(instance_type);
  if (it != plugins_.end()) return it->second.get();
  std::vector<std::string> known;
  for (const auto& [name, plugin] : plugins_) known.push_back(name);
  return absl::NotFoundError(absl::StrCat(
      "no sink plugin named '", instance_type, "' is loaded (",
      known.empty() ? "no plugins are loaded" : absl::StrCat("known: ", absl::StrJoin(known, ", ")),
      ")"));
}

std::vector<const SinkPlugin*> PluginSet::All() const {
  std::vector<const SinkPlugin*> all;
  all.reserve(plugins_.size());
  for (const auto& [name, plugin] : plugins_) all.push_back(plugin.get());
  return all;
}

}  // namespace esdb
