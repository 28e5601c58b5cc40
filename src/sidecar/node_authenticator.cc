#include "sidecar/node_authenticator.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "users.grpc.pb.h"

namespace esdb::sidecar {
namespace {

using event_store::client::users::DetailsReq;
using event_store::client::users::DetailsResp;
using event_store::client::users::Users;

// Used when the connection string sets no defaultDeadline: an HTTP caller is waiting.
constexpr int64_t kFallbackDeadlineMs = 5000;

}  // namespace

NodeAuthenticator::NodeAuthenticator(NodeConnection* connection,
                                     auth::CredentialCache::Options cache)
    : connection_(connection), cache_(std::move(cache)) {}

absl::StatusOr<http::Principal> NodeAuthenticator::Check(
    const auth::BasicCredentials& credentials) {
  if (std::optional<http::Principal> cached = cache_.Find(credentials)) return *cached;
  absl::StatusOr<NodeConnection::Target> target = connection_->Current();
  if (!target.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot check credentials with the node: ", target.status().message()));
  }
  grpc::ClientContext context;
  // The caller's credentials, not the side-car's own: the node is asked who *they* are.
  context.AddMetadata("authorization",
                      auth::BasicAuthorization(credentials.user, credentials.password));
  const int64_t deadline_ms = connection_->settings().default_deadline_ms > 0
                                  ? connection_->settings().default_deadline_ms
                                  : kFallbackDeadlineMs;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  DetailsReq request;
  request.mutable_options()->set_login_name(credentials.user);
  auto stub = Users::NewStub(target->channel);
  std::unique_ptr<grpc::ClientReader<DetailsResp>> reader = stub->Details(&context, request);
  DetailsResp response;
  bool described = false;
  while (reader->Read(&response)) {
    if (response.user_details().login_name() == credentials.user) {
      described = true;
      break;
    }
  }
  if (described) context.TryCancel();  // one answer is all we need
  grpc::Status status = reader->Finish();
  if (described) {
    const DetailsResp::UserDetails& d = response.user_details();
    if (d.disabled()) return absl::UnauthenticatedError("the node says this user is disabled");
    http::Principal who{http::Principal::Kind::kUser, credentials.user,
                        std::vector<std::string>(d.groups().begin(), d.groups().end())};
    cache_.Remember(credentials, who);
    return who;
  }
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError("the node refused these credentials");
    case grpc::StatusCode::PERMISSION_DENIED: {
      // Authenticated (the node got as far as asking whether the user may read details), but
      // nothing is known of its groups.
      http::Principal who{http::Principal::Kind::kUser, credentials.user, {}};
      cache_.Remember(credentials, who);
      return who;
    }
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::UnavailableError(
          "cannot check credentials: the node does not serve Users.Details (an --insecure dev "
          "node?)");
    case grpc::StatusCode::OK:
    case grpc::StatusCode::NOT_FOUND:
      return absl::UnauthenticatedError("the node does not know this user");
    default:
      return absl::UnavailableError(
          absl::StrCat("cannot check credentials with the node: ", status.error_message()));
  }
}

}  // namespace esdb::sidecar
