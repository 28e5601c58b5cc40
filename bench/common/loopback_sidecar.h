// The side-car's node table in the benchmark's own process: the dev node's gRPC server on a
// loopback port and the side-car's gRPC client to it, so that a figure measures the protocol
// hop and not a second process.
#ifndef ESDB_BENCH_COMMON_LOOPBACK_SIDECAR_H_
#define ESDB_BENCH_COMMON_LOOPBACK_SIDECAR_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "devnode/grpc_server.h"
#include "devnode/log_node.h"
#include "sidecar/connection_string.h"
#include "sidecar/grpc_node.h"
#include "sidecar/node_api.h"
#include "sidecar/node_connection.h"

namespace esdb::bench {

class LoopbackSidecar {
 public:
  // `node` must outlive the result.
  static absl::StatusOr<std::unique_ptr<LoopbackSidecar>> Start(devnode::LogNode* node) {
    devnode::GrpcServerOptions options;
    options.port = 0;
    auto server = devnode::GrpcServer::Start(node, options);
    if (!server.ok()) return server.status();
    auto settings = sidecar::ParseConnectionString(
        absl::StrCat("kurrentdb://127.0.0.1:", (*server)->port(), "?tls=false"));
    if (!settings.ok()) return settings.status();
    auto connection = sidecar::NodeConnection::Create(*settings);
    if (!connection.ok()) return connection.status();
    return std::unique_ptr<LoopbackSidecar>(
        new LoopbackSidecar(*std::move(server), *std::move(connection)));
  }
  ~LoopbackSidecar() { server_->Stop(); }

  const esdb_node_api* api() const { return api_.api(); }

 private:
  LoopbackSidecar(std::unique_ptr<devnode::GrpcServer> server,
                  std::unique_ptr<sidecar::NodeConnection> connection)
      : server_(std::move(server)),
        connection_(std::move(connection)),
        node_(connection_.get(), "devnode"),
        api_(&node_, {}) {}

  std::unique_ptr<devnode::GrpcServer> server_;
  std::unique_ptr<sidecar::NodeConnection> connection_;
  sidecar::GrpcNode node_;
  sidecar::SidecarNodeApi api_;
};

}  // namespace esdb::bench

#endif  // ESDB_BENCH_COMMON_LOOPBACK_SIDECAR_H_
