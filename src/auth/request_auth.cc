#include "auth/request_auth.h"

namespace esdb::auth {

absl::StatusOr<http::Principal> AuthenticateRequest(const http::Request& request,
                                                    const CredentialCheck& check) {
  absl::StatusOr<std::optional<BasicCredentials>> credentials =
      ParseAuthorization(request.Header("Authorization"));
  if (!credentials.ok()) return credentials.status();
  if (!credentials->has_value()) return http::Principal{http::Principal::Kind::kAnonymous};
  return check(**credentials);
}

}  // namespace esdb::auth
