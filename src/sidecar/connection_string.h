// EventStoreDB / KurrentDB connection strings:
//   esdb|kurrentdb|kurrent|kdb[+discover]://[user:pass@]host[:port][,host2[:port]...][/][?key=value&...]
#ifndef ESDB_SIDECAR_CONNECTION_STRING_H_
#define ESDB_SIDECAR_CONNECTION_STRING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace esdb::sidecar {

enum class NodePreference { kLeader, kFollower, kReadOnlyReplica, kRandom };

struct Endpoint {
  std::string host;
  uint16_t port = 2113;
  std::string ToString() const;  // "host:port" ([v6]:port for IPv6 literals)
};

struct ConnectionSettings {
  std::string scheme;                // as written, e.g. "kurrentdb+discover"
  bool discover = false;             // +discover, or several hosts: find the cluster via gossip
  std::vector<Endpoint> hosts;       // at least one
  std::string username, password;    // empty: no credentials
  bool tls = true;
  bool tls_verify_cert = true;
  std::string tls_ca_file;
  NodePreference node_preference = NodePreference::kLeader;
  std::string connection_name;
  int64_t default_deadline_ms = 10000;
  int64_t keep_alive_interval_ms = 10000;
  int64_t keep_alive_timeout_ms = 10000;
  int64_t discovery_interval_ms = 100;
  int64_t gossip_timeout_ms = 5000;
  int64_t max_discover_attempts = 10;

  bool has_credentials() const { return !username.empty(); }
};

// Parses a connection string. InvalidArgument with a message that names the part at fault:
// unknown scheme, missing host, bad port, unknown or malformed query key, bad value.
// Query keys are matched case-insensitively, as the official clients do.
absl::StatusOr<ConnectionSettings> ParseConnectionString(const std::string& text);

// The string again, with the password replaced by "***" (for logs).
std::string Redacted(const ConnectionSettings& settings);

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_CONNECTION_STRING_H_
