// Who sent an HTTP request, from its Authorization field, with a host's own way of checking
// credentials (its users, or the node it is attached to).
#ifndef ESDB_AUTH_REQUEST_AUTH_H_
#define ESDB_AUTH_REQUEST_AUTH_H_

#include <functional>

#include "absl/status/statusor.h"
#include "auth/basic_credentials.h"
#include "http/message.h"

namespace esdb::auth {

// Checks one set of credentials: the user they belong to, Unauthenticated when they are wrong,
// Unavailable when whoever decides cannot be asked right now.
using CredentialCheck = std::function<absl::StatusOr<http::Principal>(const BasicCredentials&)>;

// kAnonymous for a request without credentials; the user `check` finds for its Basic
// credentials; Unauthenticated for malformed or other-scheme credentials; `check`'s error
// otherwise. Wrong credentials are an error rather than anonymous on purpose: a caller who sent
// some and got them wrong should hear so (401), whatever the route would grant anonymously.
absl::StatusOr<http::Principal> AuthenticateRequest(const http::Request& request,
                                                    const CredentialCheck& check);

}  // namespace esdb::auth

#endif  // ESDB_AUTH_REQUEST_AUTH_H_
