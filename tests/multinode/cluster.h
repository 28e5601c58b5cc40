// A cluster made of real processes: one esdb-devnode (without a connectors library) serving a
// cluster view from a file, and one esdb-connectors-sidecar per member of that view.
//
// How a side-car knows which member it is: exactly as in a real cluster, by the node it connects
// to. Member m<i> of the view advertises the endpoint 127.0.0.<i>:<grpc port>; the dev node
// listens on every address, and side-car i connects to 127.0.0.<i>, so gossip lists its own
// member under the address it dialled. Each side-car is also given that member's gossip instance
// id as --member-id and "sc<i>" as --host-id.
//
// Each side-car runs in a folder of its own, so a file sink with a relative path writes one
// output file per host: what each host delivered stays apart.
#ifndef ESDB_TESTS_MULTINODE_CLUSTER_H_
#define ESDB_TESTS_MULTINODE_CLUSTER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "child_process.h"
#include "node_http.h"

namespace esdb::multinode {

struct ClusterOptions {
  std::filesystem::path dir;  // created; holds the node's log, the view and every host's folder
  std::vector<std::string> roles;  // roles[i]: role of member m<i+1> (one side-car each)
  // Passed as --lease-ms when the side-car has that flag; otherwise the library default applies.
  int64_t lease_ms = 3000;
};

class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(ClusterOptions options);
  ~Cluster();  // SIGKILLs whatever still runs (tests end by asserting, not by stopping)

  // Rewrites the cluster view with these roles and waits until the node's gossip reports them.
  absl::Status SetRoles(const std::vector<std::string>& roles);
  const std::vector<std::string>& roles() const { return roles_; }

  size_t size() const { return sidecars_.size(); }
  static std::string HostId(size_t i);  // "sc<i+1>"
  e2e::ChildProcess& sidecar_process(size_t i) { return *sidecars_.at(i); }
  e2e::NodeHttp& sidecar(size_t i) { return *sidecar_http_.at(i); }
  e2e::NodeHttp& node() { return *node_http_; }
  e2e::ChildProcess& node_process() { return *node_; }
  std::string grpc_target() const;  // "127.0.0.1:<grpc port>"
  // The lease the side-cars run with.
  absl::Duration lease() const { return lease_; }

  // The file sink output of `connector` on side-car i, for the setting path = OutputName(id).
  static std::string OutputName(const std::string& connector) { return connector + ".jsonl"; }
  std::filesystem::path OutputOf(size_t i, const std::string& connector) const;

  // Every host's log, for failure messages.
  std::string Logs() const;

 private:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}
  absl::Status WriteView(const std::vector<std::string>& roles);
  // WriteView, then waits until the node's gossip shows it.
  absl::Status ApplyView(const std::vector<std::string>& roles);
  std::string Endpoint(size_t i) const;  // member m<i+1>'s advertised endpoint

  const ClusterOptions options_;
  uint16_t grpc_port_ = 0;
  std::vector<std::string> roles_;
  absl::Duration lease_ = absl::Seconds(10);
  std::unique_ptr<e2e::ChildProcess> node_;
  std::unique_ptr<e2e::NodeHttp> node_http_;
  std::vector<std::unique_ptr<e2e::ChildProcess>> sidecars_;
  std::vector<std::unique_ptr<e2e::NodeHttp>> sidecar_http_;
};

}  // namespace esdb::multinode

#endif  // ESDB_TESTS_MULTINODE_CLUSTER_H_
