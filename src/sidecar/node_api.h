// The node ABI table (esdb/node.h) of the side-car: every function of esdb_node_api carried out
// over gRPC by GrpcNode and GrpcSubscription, with membership watched by polling gossip.
// No exception crosses the table: each trampoline turns one into ESDB_NODE_ERROR.
#ifndef ESDB_SIDECAR_NODE_API_H_
#define ESDB_SIDECAR_NODE_API_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "esdb/node.h"
#include "sidecar/grpc_node.h"
#include "sidecar/grpc_subscription.h"

namespace esdb::sidecar {

struct NodeApiOptions {
  std::string node_version = "0.0.0";  // reported as esdb_node_api.node_version
  absl::Duration members_poll = absl::Seconds(1);
  // Messages a subscription reads ahead of its callbacks before it stops reading.
  size_t subscription_queue = kMaxQueued;
  // Receives the library's log lines (level ESDB_LOG_*). Must be thread-safe.
  std::function<void(int32_t level, const std::string& message)> log;
};

class SidecarNodeApi {
 public:
  // `node` must outlive this object, which must outlive every subscription and watch the
  // library took through the table.
  SidecarNodeApi(const GrpcNode* node, NodeApiOptions options);
  SidecarNodeApi(const SidecarNodeApi&) = delete;
  SidecarNodeApi& operator=(const SidecarNodeApi&) = delete;

  const esdb_node_api* api() const { return &api_; }

 private:
  friend struct Trampolines;
  const GrpcNode* const node_;
  const NodeApiOptions options_;
  esdb_node_api api_{};
};

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_NODE_API_H_
