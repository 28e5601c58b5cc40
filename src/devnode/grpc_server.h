// The dev node's client gRPC endpoint: Streams, Gossip and ServerFeatures, and in secure mode
// Users.Details.
//
// Secure mode (options.tls set): HTTP/2 over TLS, each call authenticated by its "authorization"
// metadata (grpc_auth.h) against options.users; Streams calls need credentials and respect
// auth/stream_access.h; Gossip and ServerFeatures stay open to anonymous callers, which use them
// to find and size up the node. A client that connects and never completes its TLS handshake is
// dropped after handshake_timeout_ms.
// Insecure mode: plain HTTP/2 ("?tls=false" for official clients), no authentication, every
// call allowed.
#ifndef ESDB_DEVNODE_GRPC_SERVER_H_
#define ESDB_DEVNODE_GRPC_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "auth/user_store.h"
#include "devnode/grpc_append.h"
#include "devnode/log_node.h"

namespace esdb::devnode {

struct GrpcServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 2113;                    // 0: pick a free port (see GrpcServer::port())
  std::string server_version = "24.10.0";  // plain major.minor.patch
  AppendLimits limits;
  // PEM text. Set: secure mode (see above), which needs `users` too.
  struct Tls {
    std::string certificate_chain_pem;
    std::string private_key_pem;
    std::string ca_pem;  // optional: offered to gRPC as the trusted roots
  };
  std::optional<Tls> tls;
  // Who may call in secure mode. Must outlive the server.
  auth::UserStore* users = nullptr;
  int handshake_timeout_ms = 10000;
  // Calls open at once on one client connection (HTTP/2 streams), as KurrentDB's Kestrel allows
  // by default; a client's call past it waits for a free stream.
  int max_streams_per_connection = 100;
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
