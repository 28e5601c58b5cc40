// Gossip.Read and ServerFeatures.GetSupportedMethods: what a client asks before anything else.
#ifndef ESDB_DEVNODE_GRPC_CLUSTER_H_
#define ESDB_DEVNODE_GRPC_CLUSTER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "devnode/log_node.h"
#include "gossip.grpc.pb.h"
#include "serverfeatures.grpc.pb.h"

namespace esdb::devnode {

// Reports the node's members (LogNode::Members()); this node is advertised at the gRPC
// endpoint clients should use, every other member at its own http_endpoint ("host:port").
class GossipService final : public event_store::client::gossip::Gossip::CallbackService {
 public:
  GossipService(LogNode* node, std::string advertised_host, uint16_t advertised_port);

  // The port gossip reports for this node (the bound one when the server picked it).
  void SetAdvertisedPort(uint16_t port) { port_.store(port); }

  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* context,
                                 const event_store::client::Empty* request,
                                 event_store::client::gossip::ClusterInfo* response) override;

 private:
  static std::string MemberInstanceId(const std::string& member_id);
  LogNode* const node_;
  const std::string host_;
  std::atomic<uint16_t> port_;
  const std::string instance_id_;  // a UUID standing for this node
};

// Lists every method this server implements (lower-case names) and `version`, which must be a
// plain major.minor.patch.
class ServerFeaturesService final
    : public event_store::client::server_features::ServerFeatures::CallbackService {
 public:
  explicit ServerFeaturesService(std::string version) : version_(std::move(version)) {}

  grpc::ServerUnaryReactor* GetSupportedMethods(
      grpc::CallbackServerContext* context, const event_store::client::Empty* request,
      event_store::client::server_features::SupportedMethods* response) override;

 private:
  const std::string version_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_CLUSTER_H_
