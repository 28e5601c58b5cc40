// The management HTTP API as a function: a request struct in, a response struct out. No sockets,
// so it is unit-testable and the same for every host.
#ifndef ESDB_MANAGEMENT_API_H_
#define ESDB_MANAGEMENT_API_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "activation/supervisor.h"
#include "connector/registry.h"
#include "management/access.h"
#include "management/list_query.h"
#include "management/views.h"
#include "nlohmann/json.hpp"
#include "node/node_client.h"
#include "secrets/key_ring.h"
#include "sinks/plugin.h"

namespace esdb {

struct ApiRequest {
  std::string method;
  std::string path;   // decoded, without the query
  std::string query;  // raw, without '?'
  std::string content_type;  // the Content-Type header, "" when absent
  std::string origin;        // the Origin header (sent by browsers), "" when absent
  std::string host;          // the Host header, "" when absent
  std::string body;
  Caller caller;             // as the host authenticated it
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class ManagementApi {
 public:
  // Every pointer must outlive the API. `supervisor` may be null (then nothing runs here).
  // `keys` seal secret settings before they are stored; `destinations` checks (and resolves)
  // the files and network destinations settings name.
  ManagementApi(Registry* registry, const PluginSet* plugins, const NodeClient* node,
                const Supervisor* supervisor, const secrets::KeyRing* keys,
                const DestinationPolicy* destinations);

  // Thread-safe. Errors are JSON {"error": code, "message": text} with a 4xx/5xx status.
  // Checked first, for every route: the caller (401 with WWW-Authenticate, 403; see access.h),
  // then, for changes, the Origin (403) and the media type of any body (415).
  ApiResponse Handle(const ApiRequest& request) const;

  // Prometheus text exposition of every connector's metrics.
  std::string RenderMetrics() const;

 private:
  // The connector as the store has it now (nullopt when it does not exist).
  std::optional<Connector> Fresh(const std::string& id) const;
  const SinkPlugin* PluginOf(const Connector& c) const;  // null when not loaded
  std::optional<Position> EndOfLog() const;              // nullopt when the node cannot say
  Progress ProgressOf(const Connector& c, std::optional<Position> end) const;
  nlohmann::json View(const Connector& c, ViewParts parts) const;
  // GET /connectors, POST /connectors/list.
  ApiResponse List(const ListQuery& query) const;
  // GET /connectors/{id}/dead-letters: the connector's dead letters not yet replayed.
  ApiResponse DeadLetters(const Connector& c, absl::string_view query) const;

  Registry* registry_;
  const PluginSet* plugins_;
  const NodeClient* node_;
  const Supervisor* supervisor_;
  const secrets::KeyRing* keys_;
  const DestinationPolicy* destinations_;
};

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_API_H_
