#include "devnode/grpc_access.h"

#include <utility>

#include "devnode/grpc_auth.h"
#include "devnode/node_status.h"

namespace esdb::devnode {

StreamAccess AccessFor(http::Principal caller) {
  if (caller.kind == http::Principal::Kind::kInsecure) return {};
  return [caller = std::move(caller)](auth::StreamOperation operation, const std::string& stream) {
    return auth::AuthorizeStream(caller, operation, stream);
  };
}

absl::Status CheckAccess(const StreamAccess& access, auth::StreamOperation operation,
                         const std::string& stream) {
  return access ? access(operation, stream) : absl::OkStatus();
}

GrpcError AccessError(const absl::Status& refusal) {
  if (absl::IsUnauthenticated(refusal)) {
    return GrpcError{
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(refusal.message())), {}};
  }
  return FromNodeStatus(NodeError(ESDB_NODE_ACCESS_DENIED, refusal.message()), "", 0);
}

google::rpc::Status BatchAccessError(const absl::Status& refusal) {
  return BatchAppendError(NodeError(ESDB_NODE_ACCESS_DENIED, refusal.message()), "", 0);
}

http::Principal CallPrincipal(const grpc::ServerContextBase& context, bool secure) {
  if (!secure) return http::Principal{http::Principal::Kind::kInsecure};
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return http::Principal{http::Principal::Kind::kAnonymous};
  std::vector<grpc::string_ref> names = auth->FindPropertyValues(kUserProperty);
  if (names.empty()) return http::Principal{http::Principal::Kind::kAnonymous};
  http::Principal who{http::Principal::Kind::kUser,
                      std::string(names.front().data(), names.front().size())};
  for (const grpc::string_ref& role : auth->FindPropertyValues(kRoleProperty)) {
    who.roles.emplace_back(role.data(), role.size());
  }
  return who;
}

}  // namespace esdb::devnode
