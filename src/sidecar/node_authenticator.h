// How a secure side-car knows who calls its HTTP API without a user list of its own: it asks the
// node it is attached to. For credentials it has not seen lately, it calls the client protocol's
// Users.Details for the caller's own login name, with the caller's own credentials; a node that
// answers has authenticated them and says which groups the user is in. Answers are cached
// briefly (auth/credential_cache.h: 10 s, bounded, keyed by an HMAC of the credentials).
//
// The caller's password thus travels to the node: only over the connection's TLS (main refuses
// a secure side-car with tls=false).
//
// Thread-safe.
#ifndef ESDB_SIDECAR_NODE_AUTHENTICATOR_H_
#define ESDB_SIDECAR_NODE_AUTHENTICATOR_H_

#include "absl/status/statusor.h"
#include "auth/basic_credentials.h"
#include "auth/credential_cache.h"
#include "http/message.h"
#include "sidecar/node_connection.h"

namespace esdb::sidecar {

class NodeAuthenticator {
 public:
  // `connection` must outlive this object.
  explicit NodeAuthenticator(NodeConnection* connection, auth::CredentialCache::Options cache =
                                                             auth::CredentialCache::Options());

  // The user the node says `credentials` belong to, with its groups as roles. Unauthenticated
  // when the node refuses them (or describes a disabled user); Unavailable when the node cannot
  // be asked (unreachable, too slow, or not serving Users.Details). A node that accepts the
  // credentials but will not describe the user (PERMISSION_DENIED) yields the user without
  // groups: authenticated, so it may read, but it may not change anything.
  absl::StatusOr<http::Principal> Check(const auth::BasicCredentials& credentials);

 private:
  NodeConnection* const connection_;
  auth::CredentialCache cache_;
};

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_NODE_AUTHENTICATOR_H_
