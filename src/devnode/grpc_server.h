// The dev node's client gRPC endpoint: Streams, Gossip and ServerFeatures over plain HTTP/2
// (no TLS, no authentication), as official clients reach it with "?tls=false".
#ifndef ESDB_DEVNODE_GRPC_SERVER_H_
#define ESDB_DEVNODE_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "devnode/grpc_append.h"
#include "devnode/log_node.h"

namespace esdb::devnode {

struct GrpcServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 2113;                    // 0: pick a free port (see GrpcServer::port())
  std::string server_version = "24.10.0";  // plain major.minor.patch
  AppendLimits limits;
};

class GrpcServer {
 public:
  // Listens and serves until Stop(). `node` must outlive the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(LogNode* node,
                                                           GrpcServerOptions options);
  // Stop().
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  uint16_t port() const { return port_; }

  // Refuses new calls, cancels the ones still running (subscriptions never end by themselves)
  // and returns when all are done. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl, uint16_t port);

  std::unique_ptr<Impl> impl_;
  const uint16_t port_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_SERVER_H_
