// Authentication of gRPC calls in secure mode: the "authorization" metadata official clients
// send with each call (Basic base64(user:password)) is checked before the call reaches a
// service, on gRPC's own thread pool for blocking checks (a password check is a slow KDF).
//
// A call without credentials goes on as anonymous (each service decides what anonymous callers
// may do); a call with wrong, malformed or non-Basic credentials ends with UNAUTHENTICATED
// before any service sees it. The user found is recorded on the call's AuthContext, where
// CallPrincipal (grpc_access.h) reads it.
#ifndef ESDB_DEVNODE_GRPC_AUTH_H_
#define ESDB_DEVNODE_GRPC_AUTH_H_

#include "auth/request_auth.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace esdb::devnode {

// AuthContext properties set for an authenticated call: the user's name, and one entry per
// group it belongs to.
inline constexpr char kUserProperty[] = "esdb.user";
inline constexpr char kRoleProperty[] = "esdb.role";

class BasicAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // `check` must be thread-safe and outlive the server.
  explicit BasicAuthProcessor(auth::CredentialCheck check) : check_(std::move(check)) {}

  bool IsBlocking() const override { return true; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const auth::CredentialCheck check_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_AUTH_H_
