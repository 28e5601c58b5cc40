#include "devnode/grpc_server.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "devnode/grpc_auth.h"
#include "devnode/grpc_cluster.h"
#include "devnode/grpc_streams.h"
#include "devnode/grpc_users.h"
#include "grpcpp/grpcpp.h"

namespace esdb::devnode {
namespace {

// Room for an append of the maximum size plus its framing; bigger messages are refused by gRPC
// with RESOURCE_EXHAUSTED before they reach a service.
constexpr int kMinReceiveMessageSize = 4 * 1024 * 1024;

}  // namespace

struct GrpcServer::Impl {
  std::unique_ptr<StreamsService> streams;
  std::unique_ptr<UsersService> users;
  std::unique_ptr<GossipService> gossip;
  std::unique_ptr<ServerFeaturesService> features;
  std::unique_ptr<grpc::Server> server;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(LogNode* node,
                                                              GrpcServerOptions options) {
  const bool secure = options.tls.has_value();
  if (secure && options.users == nullptr) {
    return absl::InvalidArgumentError("a secure gRPC server needs users to authenticate against");
  }
  if (options.handshake_timeout_ms <= 0) {
    return absl::InvalidArgumentError("the gRPC handshake timeout must be positive");
  }
  auto impl = std::make_unique<Impl>();
  // Clients connect to the address gossip advertises; a wildcard bind is reached on loopback.
  const std::string advertised =
      options.address == "0.0.0.0" || options.address == "::" ? "127.0.0.1" : options.address;
  int bound_port = 0;
  grpc::ServerBuilder builder;
  const std::string address = options.address.find(':') != std::string::npos
                                  ? absl::StrCat("[", options.address, "]:", options.port)
                                  : absl::StrCat(options.address, ":", options.port);
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (secure) {
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_root_certs = options.tls->ca_pem;
    ssl.pem_key_cert_pairs.push_back(
        {options.tls->private_key_pem, options.tls->certificate_chain_pem});
    credentials = grpc::SslServerCredentials(ssl);
    auth::UserStore* users = options.users;
    credentials->SetAuthMetadataProcessor(std::make_shared<BasicAuthProcessor>(
        [users](const auth::BasicCredentials& c) { return users->Authenticate(c); }));
  } else {
    credentials = grpc::InsecureServerCredentials();
  }
  builder.AddListeningPort(address, credentials, &bound_port);
  // Covers the TLS handshake too: a client that never finishes it does not keep its connection.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, options.handshake_timeout_ms);
  // gRPC's default SO_REUSEPORT would let a second process listen on this port too and receive
  // a share of the clients' connections: a port in use must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_streams_per_connection);
  builder.SetMaxReceiveMessageSize(std::max<int>(
      kMinReceiveMessageSize,
      static_cast<int>(std::min<uint64_t>(2ULL * options.limits.max_append_size, INT32_MAX / 2))));
  impl->streams = std::make_unique<StreamsService>(node, options.limits, secure);
  impl->features = std::make_unique<ServerFeaturesService>(options.server_version);
  impl->gossip = std::make_unique<GossipService>(node, advertised, options.port);
  builder.RegisterService(impl->streams.get());
  builder.RegisterService(impl->features.get());
  builder.RegisterService(impl->gossip.get());
  if (secure) {
    impl->users = std::make_unique<UsersService>(options.users);
    builder.RegisterService(impl->users.get());
  }
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || bound_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", address, " (port in use or bad address?)"));
  }
  // With port 0 the real port is known only now.
  impl->gossip->SetAdvertisedPort(static_cast<uint16_t>(bound_port));
  return std::unique_ptr<GrpcServer>(
      new GrpcServer(std::move(impl), static_cast<uint16_t>(bound_port)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl, uint16_t port)
    : impl_(std::move(impl)), port_(port) {}

GrpcServer::~GrpcServer() { Stop(); }

void GrpcServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Running calls get a moment to finish, then are cancelled.
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  impl_->server->Wait();
}

}  // namespace esdb::devnode
