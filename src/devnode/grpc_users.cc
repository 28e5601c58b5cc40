#include "devnode/grpc_users.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/stream_access.h"
#include "core/text.h"
#include "devnode/grpc_access.h"

namespace esdb::devnode {
namespace {

using event_store::client::users::DetailsReq;
using event_store::client::users::DetailsResp;

// .NET ticks (100 ns) since the Unix epoch, as the protocol's DateTime carries them.
int64_t Ticks(absl::Time t) { return absl::ToUnixMicros(t) * 10; }

DetailsResp ToResponse(const auth::User& user, absl::Time updated) {
  DetailsResp resp;
  DetailsResp::UserDetails* d = resp.mutable_user_details();
  d->set_login_name(user.name);
  d->set_full_name(user.full_name);
  for (const std::string& group : user.groups) d->add_groups(group);
  d->mutable_last_updated()->set_ticks_since_epoch(Ticks(updated));
  d->set_disabled(user.disabled);
  return resp;
}

GrpcError Denied(const std::string& message) {
  return GrpcError{grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message),
                   {{"exception", "access-denied"}}};
}

// Writes the answers one after the other, then finishes.
class DetailsCall final : public grpc::ServerWriteReactor<DetailsResp> {
 public:
  DetailsCall(grpc::CallbackServerContext* context, std::vector<DetailsResp> answers,
              std::optional<GrpcError> error)
      : answers_(std::move(answers)) {
    if (error.has_value()) {
      error->AddTrailersTo(context);
      Finish(error->status);
      return;
    }
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::CANCELLED);
      return;
    }
    Next();
  }

  void OnDone() override { delete this; }

 private:
  void Next() {
    if (next_ >= answers_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&answers_[next_++]);
  }

  std::vector<DetailsResp> answers_;
  size_t next_ = 0;
};

}  // namespace

std::optional<GrpcError> HandleUserDetails(const auth::UserStore& users,
                                           const http::Principal& caller, const DetailsReq& request,
                                           std::vector<DetailsResp>* out) {
  if (caller.kind != http::Principal::Kind::kUser) {
    // Insecure servers do not offer the service; an anonymous caller has nobody to ask about.
    return AccessError(absl::UnauthenticatedError(
        "credentials are required: send a user name and password (HTTP Basic)"));
  }
  const bool admin = auth::HasRole(caller, auth::kAdminsGroup);
  const std::string& name = request.options().login_name();
  if (name.empty()) {
    if (!admin) return Denied("listing users needs membership of $admins");
    for (const auth::User& user : users.users())
      out->push_back(ToResponse(user, users.loaded_at()));
    return std::nullopt;
  }
  if (name != caller.name && !admin) {
    return Denied(absl::StrCat("user '", Excerpt(caller.name),
                               "' may read only its own details; others' need $admins"));
  }
  const auth::User* user = users.Find(name);
  if (user == nullptr) {
    GrpcError e{
        grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no user '", Excerpt(name), "'")),
        {{"exception", "user-not-found"}}};
    // Metadata values are printable ASCII; any other name is named in the message only.
    if (std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
      e.trailers.emplace_back("login-name", name);
    }
    return e;
  }
  out->push_back(ToResponse(*user, users.loaded_at()));
  return std::nullopt;
}

grpc::ServerWriteReactor<DetailsResp>* UsersService::Details(grpc::CallbackServerContext* context,
                                                             const DetailsReq* request) {
  std::vector<DetailsResp> answers;
  std::optional<GrpcError> error =
      HandleUserDetails(*users_, CallPrincipal(*context, /*secure=*/true), *request, &answers);
  return new DetailsCall(context, std::move(answers), std::move(error));
}

}  // namespace esdb::devnode
