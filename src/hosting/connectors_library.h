// A host's handle on libesdb_connectors.so: dlopen'ed exactly as a node loads it, started with
// the host's node API, and stopped (final checkpoints) and closed when destroyed.
#ifndef ESDB_HOSTING_CONNECTORS_LIBRARY_H_
#define ESDB_HOSTING_CONNECTORS_LIBRARY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "esdb/connectors.h"
#include "http/message.h"

namespace esdb::hosting {

// The oldest library ABI (esdb/connectors.h) a host works with: the version that added the
// newest entry point or struct field the host relies on.
inline constexpr uint32_t kNeededLibraryAbi = 1;

class ConnectorsLibrary {
 public:
  // Loads the library at `path` and starts it with `node` (which must outlive this object) and
  // `config_json` (see esdb_connectors_start). Errors name the file and the reason.
  static absl::StatusOr<std::unique_ptr<ConnectorsLibrary>> Load(const std::string& path,
                                                                 const esdb_node_api* node,
                                                                 const std::string& config_json);
  ~ConnectorsLibrary();  // esdb_connectors_stop, then dlclose

  // Thread-safe.
  http::Response Handle(const http::Request& request) const;
  std::string Metrics() const;

 private:
  ConnectorsLibrary() = default;
  void* handle_ = nullptr;
  esdb_connectors* lib_ = nullptr;
  decltype(&esdb_connectors_handle_http) handle_http_ = nullptr;
  decltype(&esdb_connectors_free_response) free_response_ = nullptr;
  decltype(&esdb_connectors_metrics) metrics_ = nullptr;
  decltype(&esdb_connectors_free_string) free_string_ = nullptr;
  decltype(&esdb_connectors_stop) stop_ = nullptr;
};

// True for the paths the library serves: /connectors, /connectors/..., /connector-plugins and
// the management page under /ui/.
bool IsConnectorsPath(const std::string& path);

}  // namespace esdb::hosting

#endif  // ESDB_HOSTING_CONNECTORS_LIBRARY_H_
