#include "library/library.h"

#include <dlfcn.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "nlohmann/json.hpp"
#include "secrets/sealed_settings.h"

namespace esdb {
namespace {

// The folder this shared object was loaded from, for the default plugin folder.
std::string OwnDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OwnDirectory), &info) == 0 || info.dli_fname == nullptr) {
    return ".";
  }
  return std::filesystem::path(info.dli_fname).parent_path().string();
}

bool IsStringArray(const nlohmann::json& v) {
  if (!v.is_array()) return false;
  for (const auto& item : v) {
    if (!item.is_string()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<LibraryConfig> LibraryConfig::Parse(const std::string& text) {
  LibraryConfig c;
  if (text.empty()) return c;
  auto parsed = ParseJson(text, kMaxRequestJsonDepth, "config");
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config must be a JSON object (", parsed.status().message(), ")"));
  }
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return absl::InvalidArgumentError("config must be a JSON object");
  for (auto& [k, v] : j.items()) {
    if (k == "pluginsDir" && v.is_string()) {
      c.plugins_dir = v;
    } else if (k == "hostId" && v.is_string()) {
      c.host_id = v;
    } else if (k == "memberId" && v.is_string()) {
      c.member_id = v;
    } else if (k == "leaseMs" && v.is_number_integer() && v.get<int64_t>() >= 100) {
      c.lease_ms = v;
    } else if (k == "logLevel" && v.is_string()) {
      // Accepted for hosts that pass it; the host's own log function filters by level.
    } else if (k == "sinkFilesRoot" && v.is_string()) {
      c.destinations.files_root = v;
    } else if ((k == "sinkAllowedHosts" || k == "hostEndpoints") && IsStringArray(v)) {
      (k == "hostEndpoints" ? c.destinations.own_endpoints : c.destinations.allowed_hosts) =
          v.get<std::vector<std::string>>();
    } else if (k == "secretsKeyFile" && v.is_string()) {
      c.secrets_key_file = v;
    } else if (k == "secretsPreviousKeyFile" && v.is_string()) {
      c.secrets_previous_key_file = v;
    } else if (k == "scanCheckpointInterval" && v.is_number_unsigned()) {
      c.scan_checkpoint_interval = v;
    } else if (k == "taskThreads" && v.is_number_integer() && v.get<int64_t>() >= 0 &&
               v.get<int64_t>() <= 256) {
      c.task_threads = v;
    } else if (k == "sinkThreads" && v.is_number_integer() && v.get<int64_t>() >= 1 &&
               v.get<int64_t>() <= 4096) {
      c.sink_threads = v;
    } else if (k == "stopTimeoutMs" && v.is_number_integer() && v.get<int64_t>() >= 0) {
      c.stop_timeout_ms = v;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("config: unknown key or bad value '", k, "'"));
    }
  }
  return c;
}

absl::Status CheckNodeApi(const esdb_node_api* api) {
  if (api == nullptr) return absl::InvalidArgumentError("the host passed no node API");
  // Version 1 of the table ends with `log`: an older (shorter) one is not a node ABI table.
  if (api->struct_size < ESDB_FIELD_END(esdb_node_api, log)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the host's node API table is ", api->struct_size, " bytes, shorter than the ",
                     ESDB_FIELD_END(esdb_node_api, log), " bytes of node ABI version 1"));
  }
  if (!ESDB_ABI_SATISFIES(api->abi_version, kNeededNodeAbi)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the host's node API has version ", api->abi_version,
                     "; esdb-connectors needs version ", kNeededNodeAbi, " or newer"));
  }
  if (api->append == nullptr || api->read_stream == nullptr || api->subscribe_all == nullptr ||
      api->unsubscribe_all == nullptr || api->last_position == nullptr ||
      api->set_stream_metadata == nullptr) {
    return absl::InvalidArgumentError(
        "the host's node API is incomplete (needs append, read_stream, subscribe_all, "
        "unsubscribe_all, last_position, set_stream_metadata)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Library>> Library::Start(const esdb_node_api* api,
                                                        const LibraryConfig& config) {
  if (absl::Status s = CheckNodeApi(api); !s.ok()) return s;
  std::unique_ptr<Library> lib(new Library(api));
  std::string dir = config.plugins_dir.empty()
                        ? absl::StrCat(OwnDirectory(), "/esdb-connectors/plugins")
                        : config.plugins_dir;
  auto plugins = PluginSet::LoadDirectory(
      dir,
      [&](const std::string& error) {
        lib->node_.Log(ESDB_LOG_ERROR, absl::StrCat("sink plugin skipped: ", error));
      },
      [&](const std::string& warning) { lib->node_.Log(ESDB_LOG_WARN, warning); });
  if (!plugins.ok()) return plugins.status();
  lib->plugins_ = std::move(*plugins);

  auto members = lib->node_.GetMembers();
  std::string self =
      members.ok() && !members->self_id.empty() ? members->self_id : kSingleNodeMemberId;
  std::string member = config.member_id.empty() ? self : config.member_id;
  std::string host = config.host_id.empty() ? member : config.host_id;
  auto keys = secrets::KeyRing::Load(config.secrets_key_file, config.secrets_previous_key_file);
  if (!keys.ok()) return keys.status();
  lib->keys_ = *std::move(keys);
  auto destinations = DestinationPolicy::Create(config.destinations);
  if (!destinations.ok()) return destinations.status();
  lib->destinations_ = *std::move(destinations);
  lib->pools_ = std::make_unique<DeliveryPools>(DeliveryPoolsOptions{
      .task_threads = config.task_threads, .sink_threads = config.sink_threads});
  lib->registry_ = std::make_unique<Registry>(&lib->node_);
  if (auto s = lib->registry_->Load(); !s.ok()) return s;
  lib->RewrapDataKeys();
  lib->supervisor_ = std::make_unique<Supervisor>(SupervisorOptions{
      .host_id = host,
      .member_id = member,
      .lease = absl::Milliseconds(config.lease_ms),
      .node = &lib->node_,
      .registry = lib->registry_.get(),
      .plugins = &lib->plugins_,
      .keys = &lib->keys_,
      .destinations = &lib->destinations_,
      .scan_checkpoint_interval = config.scan_checkpoint_interval,
      .pools = lib->pools_.get(),
      .stop_timeout = absl::Milliseconds(config.stop_timeout_ms)});
  lib->registry_->OnChange([s = lib->supervisor_.get()](const std::string&) { s->Poke(); });
  lib->api_ = std::make_unique<ManagementApi>(lib->registry_.get(), &lib->plugins_, &lib->node_,
                                              lib->supervisor_.get(), &lib->keys_,
                                              &lib->destinations_);
  lib->supervisor_->Start();
  std::string names;
  for (const SinkPlugin* p : lib->plugins_.All()) absl::StrAppend(&names, " ", p->name());
  lib->node_.Log(ESDB_LOG_INFO,
                 absl::StrCat("esdb-connectors started on host '", host, "': ",
                              lib->registry_->List().size(), " connectors; sinks:", names));
  return lib;
}

void Library::RewrapDataKeys() {
  const secrets::MasterKey* current = keys_.current();
  if (current == nullptr) return;
  int rewrapped = 0;
  for (const Connector& c : registry_->List()) {
    if (c.secrets.keys.empty() || c.secrets.key_id == current->id) continue;
    auto secrets = secrets::Rewrap(c.id, c.secrets, keys_);
    absl::Status s = secrets.ok()
                         ? registry_->Execute(c.id, cmd::RewrapDataKey{*secrets}).status()
                         : secrets.status();
    if (s.ok()) {
      ++rewrapped;
    } else {
      node_.Log(ESDB_LOG_ERROR, absl::StrCat("connector ", c.id, ": its secrets stay under master "
                                             "key ", c.secrets.key_id, ": ", s.message()));
    }
  }
  if (rewrapped > 0) {
    node_.Log(ESDB_LOG_INFO, absl::StrCat("secrets of ", rewrapped,
                                          " connectors now wrapped by master key ", current->id));
  }
}

Library::~Library() {
  if (supervisor_) supervisor_->Stop();
  if (registry_) registry_->OnChange(nullptr);
  // Every runner has ended or been given up; only a hung sink call can still be running.
  if (pools_ && !pools_->Shutdown(absl::Seconds(1))) KeepCodeLoaded();
}

void Library::KeepCodeLoaded() {
  node_.Log(ESDB_LOG_WARN,
            "a sink call still hangs in its plugin; the plugins and esdb-connectors stay loaded "
            "until the process ends");
  // Its thread runs plugin code and returns into ours: neither may be unmapped. The plugins are
  // never closed (dlclose), and this library is marked not to be unloaded.
  std::make_unique<PluginSet>(std::move(plugins_)).release();
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&OwnDirectory), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}

}  // namespace esdb
