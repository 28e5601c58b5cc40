// Users.Details of the client protocol over the dev node's users (auth/user_store.h), with
// KurrentDB's rule: a user may read its own details, $admins anyone's; only $admins may list
// every user (an empty login name). This is how a side-car learns who its callers are.
#ifndef ESDB_DEVNODE_GRPC_USERS_H_
#define ESDB_DEVNODE_GRPC_USERS_H_

#include <optional>
#include <vector>

#include "auth/user_store.h"
#include "devnode/grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "http/message.h"
#include "users.grpc.pb.h"

namespace esdb::devnode {

// What Details answers `caller`: the details to stream, or the error to end the call with
// (UNAUTHENTICATED for anonymous callers, PERMISSION_DENIED with exception=access-denied,
// NOT_FOUND with exception=user-not-found and login-name). Apart from the service so it can be
// driven without a server.
std::optional<GrpcError> HandleUserDetails(
    const auth::UserStore& users, const http::Principal& caller,
    const event_store::client::users::DetailsReq& request,
    std::vector<event_store::client::users::DetailsResp>* out);

class UsersService final : public event_store::client::users::Users::CallbackService {
 public:
  // `users` must outlive the server this service is registered with. Only for secure servers:
  // callers are who BasicAuthProcessor found.
  explicit UsersService(const auth::UserStore* users) : users_(users) {}

  grpc::ServerWriteReactor<event_store::client::users::DetailsResp>* Details(
      grpc::CallbackServerContext* context,
      const event_store::client::users::DetailsReq* request) override;

 private:
  const auth::UserStore* const users_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_USERS_H_
