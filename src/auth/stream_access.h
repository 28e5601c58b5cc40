// Who may read and write which streams over a host's client protocol (the dev node's gRPC
// Streams service and its /streams HTTP routes). As in KurrentDB's defaults, simplified: no
// per-stream ACL metadata.
//
//   - kInsecure (--insecure): everything, for everyone.
//   - anonymous: nothing (Unauthenticated).
//   - $all, and the connectors library's own streams ($connectors, $connectors/..., and
//     $connectors-hosts, with their "$$" metadata streams): members of $admins only, for reading
//     and writing. They hold connector definitions (secrets included) and the leases that decide
//     which host runs what; $all holds all of them.
//   - any other stream: any authenticated user.
//
// The library itself, loaded in-process, uses the node ABI and is not subject to this.
#ifndef ESDB_AUTH_STREAM_ACCESS_H_
#define ESDB_AUTH_STREAM_ACCESS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "http/message.h"

namespace esdb::auth {

enum class StreamOperation {
  kRead,   // read or subscribe
  kWrite,  // append, delete, tombstone, set metadata
};

// The name this module gives the global log.
inline constexpr char kAllStream[] = "$all";
inline constexpr char kAdminsGroup[] = "$admins";
inline constexpr char kOpsGroup[] = "$ops";

// True for the streams only $admins may touch (see above), "$$" metadata streams included.
bool IsAdminOnlyStream(absl::string_view stream);

bool HasRole(const http::Principal& principal, absl::string_view role);

// OK when `principal` may do `operation` on `stream`; Unauthenticated for anonymous callers,
// PermissionDenied (naming the user, the stream and the group needed) otherwise.
absl::Status AuthorizeStream(const http::Principal& principal, StreamOperation operation,
                             absl::string_view stream);

// OK for kInsecure and for any authenticated user; Unauthenticated for anonymous callers.
absl::Status RequireAuthenticated(const http::Principal& principal);

}  // namespace esdb::auth

#endif  // ESDB_AUTH_STREAM_ACCESS_H_
