// HTTP Basic credentials (RFC 7617), as both hosts receive them: in the Authorization field of an
// HTTP request and in the "authorization" metadata of a gRPC call (which official clients fill
// the same way).
#ifndef ESDB_AUTH_BASIC_CREDENTIALS_H_
#define ESDB_AUTH_BASIC_CREDENTIALS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb::auth {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The credentials in an Authorization value. nullopt for an empty value (the caller sent none);
// Unauthenticated for another scheme (Bearer, ...) or a malformed value. Error messages never
// quote the value, which may hold a password.
absl::StatusOr<std::optional<BasicCredentials>> ParseAuthorization(absl::string_view value);

// "Basic base64(user:password)".
std::string BasicAuthorization(absl::string_view user, absl::string_view password);

}  // namespace esdb::auth

#endif  // ESDB_AUTH_BASIC_CREDENTIALS_H_
