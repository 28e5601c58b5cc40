// How the dev node's gRPC services report failures: a gRPC status plus the trailers official
// clients read ("exception" and its companions, see PROTOCOL.md "Errors"), or, inside a
// BatchAppendResp, a google.rpc.Status with one typed detail.
#ifndef ESDB_DEVNODE_GRPC_STATUS_H_
#define ESDB_DEVNODE_GRPC_STATUS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "status.pb.h"

namespace esdb::devnode {

// Trailers to add to a call before it finishes, and the status to finish it with.
struct GrpcError {
  grpc::Status status;
  std::vector<std::pair<std::string, std::string>> trailers;

  // Adds the trailers to `context`; call once, before Finish(status).
  void AddTrailersTo(grpc::ServerContextBase* context) const;
};

// A node failure (node_status.h) about `stream`. WRONG_EXPECTED_VERSION needs the expectation the
// client sent (a revision or ESDB_EXPECT_*); the actual revision travels on `status`.
GrpcError FromNodeStatus(const absl::Status& status, const std::string& stream,
                         int64_t expected_revision);

GrpcError InvalidArgument(const std::string& message);
GrpcError MissingRequiredMetadata();
GrpcError MaximumAppendSizeExceeded(uint32_t max_append_size);

// The body error of a BatchAppendResp for the same failures.
google::rpc::Status BatchAppendError(const absl::Status& status, const std::string& stream,
                                     int64_t expected_revision);
google::rpc::Status BatchAppendBadRequest(const std::string& message);
google::rpc::Status BatchAppendTooBig(uint32_t max_append_size);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_STATUS_H_
