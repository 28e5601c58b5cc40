// The host's policy for where sinks may write and connect: settings a plugin marks as a file
// (ESDB_SINK_TARGET_FILE) must resolve, symbolic links followed, under the host's sink file root;
// settings marked as a network destination (ESDB_SINK_TARGET_NETWORK) must name an allowed host
// (when a list is given) and never the host's own listening ports. A network value is a URL, a
// comma-separated host:port list, or a libpq connection string (keyword=value pairs or a
// postgresql:// URI, whose host, hostaddr and port options are checked; port 5432 by default).
//
// Checked when settings are accepted and again before a sink is opened, so a policy or a file
// system that changed in between is honoured. Names are not resolved: to allow addresses by
// range, list CIDRs; a name that resolves to this machine is not recognised as local.
#ifndef ESDB_SINKS_DESTINATION_POLICY_H_
#define ESDB_SINKS_DESTINATION_POLICY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/settings.h"
#include "sinks/plugin.h"

namespace esdb {

struct DestinationPolicyOptions {
  std::string files_root;                  // "": no sink may name a file
  std::vector<std::string> allowed_hosts;  // "name", "name:port", "10.0.0.0/8", ...; empty: any
  std::vector<std::string> own_endpoints;  // "host:port" the host listens on: always refused
};

class DestinationPolicy {
 public:
  DestinationPolicy() = default;  // refuses every file, allows every destination but none local

  // InvalidArgument naming a malformed allowed-hosts entry or endpoint.
  static absl::StatusOr<DestinationPolicy> Create(DestinationPolicyOptions options);

  // Checks every setting of `sink_settings` that `plugin` marks; file settings are rewritten to
  // their resolved absolute form (so the sink opens what was checked). InvalidArgument naming
  // the key and saying why.
  absl::Status Apply(const SinkPlugin& plugin, SettingsMap& sink_settings) const;

 private:
  struct Rule {
    bool cidr = false;
    std::string host;   // lower-case name or canonical address text (not cidr)
    uint8_t addr[16] = {};  // cidr: network, IPv4 mapped into the last 4 bytes
    int prefix_bits = 0;    // cidr: over the 128 bits
    int port = 0;           // 0: any
  };
  struct Endpoint {
    std::string host;
    int port = 0;
  };

  absl::Status CheckFile(const std::string& key, std::string& value) const;
  // A secret value (the plugin's table says so) is never quoted in the error.
  absl::Status CheckNetwork(const std::string& key, const std::string& value, bool secret) const;

  std::string files_root_;  // canonical; "" when none
  std::vector<Rule> allowed_;
  std::vector<Endpoint> own_;
};

}  // namespace esdb

#endif  // ESDB_SINKS_DESTINATION_POLICY_H_
