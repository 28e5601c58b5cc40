// The library as one C++ object: what esdb_connectors_start() creates. Hosts use the C entry
// points (esdb/connectors.h); tests may use this class directly.
#ifndef ESDB_LIBRARY_LIBRARY_H_
#define ESDB_LIBRARY_LIBRARY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "activation/supervisor.h"
#include "connector/registry.h"
#include "delivery/pools.h"
#include "management/api.h"
#include "node/node_client.h"
#include "secrets/key_ring.h"
#include "sinks/destination_policy.h"
#include "sinks/plugin.h"

namespace esdb {

struct LibraryConfig {
  std::string plugins_dir;  // "": next to the library
  std::string host_id;      // "": the node's self member id
  std::string member_id;    // "": the node's self member id (the member this host serves)
  int64_t lease_ms = 10000; // a host silent for longer is taken for dead
  uint32_t scan_checkpoint_interval = 0;
  // The threads connectors run on (delivery/pools.h): the runners' executor (0: one per core, 2
  // to 8) and the most sink calls running at once.
  int task_threads = 0;
  int sink_threads = 64;
  // How long a stopping connector may wait for its sink call before it is given up.
  int64_t stop_timeout_ms = 10000;
  // Master keys for secret settings (secrets/key_ring.h); "" for none. With no current key,
  // connectors with secrets cannot be created. With a previous key, every connector's data key
  // wrapped by it is wrapped by the current one at start-up (rotation).
  std::string secrets_key_file;
  std::string secrets_previous_key_file;
  // Where sinks may write and connect (sinks/destination_policy.h): the file root ("": no
  // files), the allowed destinations (empty: any) and the host's own endpoints (never allowed).
  DestinationPolicyOptions destinations;

  // Parses the JSON config of esdb_connectors_start(); unknown keys are InvalidArgument.
  static absl::StatusOr<LibraryConfig> Parse(const std::string& json);
};

// The oldest node ABI (esdb/node.h) the library works with: it calls nothing added later.
inline constexpr uint32_t kNeededNodeAbi = 1;

// Whether a host's node table can serve the library (esdb/abi.h): long enough for version 1, of
// a version the library can use, with every function that is not OPTIONAL.
absl::Status CheckNodeApi(const esdb_node_api* api);

class Library {
 public:
  // Loads plugins, rebuilds the registry and starts the connectors that should run here.
  static absl::StatusOr<std::unique_ptr<Library>> Start(const esdb_node_api* node,
                                                        const LibraryConfig& config);
  ~Library();  // stops every connector cleanly

  const ManagementApi& api() const { return *api_; }

 private:
  Library(const esdb_node_api* node) : node_(node) {}
  // Rotation: data keys wrapped by the previous master key are wrapped by the current one.
  void RewrapDataKeys();
  // After a stop that left a hung sink call behind: keeps the plugins and this library loaded.
  void KeepCodeLoaded();

  NodeClient node_;
  secrets::KeyRing keys_;
  DestinationPolicy destinations_;
  PluginSet plugins_;
  std::unique_ptr<DeliveryPools> pools_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<ManagementApi> api_;
};

}  // namespace esdb

#endif  // ESDB_LIBRARY_LIBRARY_H_
