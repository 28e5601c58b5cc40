// Who may use which stream over the dev node's client gRPC protocol, as the Streams service
// applies it (the policy itself is auth/stream_access.h), and how a refusal reads on the wire.
#ifndef ESDB_DEVNODE_GRPC_ACCESS_H_
#define ESDB_DEVNODE_GRPC_ACCESS_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "auth/stream_access.h"
#include "devnode/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "http/message.h"
#include "status.pb.h"

namespace esdb::devnode {

// Whether the caller of one call may do `operation` on `stream` (auth::kAllStream for $all):
// OK, Unauthenticated or PermissionDenied. An empty function allows everything (insecure mode,
// and code driven without a server).
using StreamAccess =
    std::function<absl::Status(auth::StreamOperation operation, const std::string& stream)>;

// The check for `caller`, per auth::AuthorizeStream.
StreamAccess AccessFor(http::Principal caller);

// OK when `access` is empty or allows the operation.
absl::Status CheckAccess(const StreamAccess& access, auth::StreamOperation operation,
                         const std::string& stream);

// A refusal as official servers send it: Unauthenticated as UNAUTHENTICATED, PermissionDenied
// as PERMISSION_DENIED with the trailer exception=access-denied.
GrpcError AccessError(const absl::Status& refusal);
// The same inside a BatchAppendResp: PERMISSION_DENIED with an AccessDenied detail.
google::rpc::Status BatchAccessError(const absl::Status& refusal);

// Who made the call. Without `secure` (the server runs --insecure) everyone is kInsecure;
// otherwise the user the server's BasicAuthProcessor found (grpc_auth.h), or kAnonymous.
http::Principal CallPrincipal(const grpc::ServerContextBase& context, bool secure);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_ACCESS_H_
