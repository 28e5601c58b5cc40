// Who may do what through the management API, and which requests a browser may not forge.
//
// The host authenticates and says who called (Caller); this decides. Pure: no I/O.
#ifndef ESDB_MANAGEMENT_ACCESS_H_
#define ESDB_MANAGEMENT_ACCESS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace esdb {

// The caller of one request, as the host authenticated it.
struct Caller {
  enum class Kind {
    kAnonymous,  // no (valid) credentials
    kUser,       // an authenticated user
    kInsecure,   // the host runs without authentication (--insecure): everything is allowed
  };
  Kind kind = Kind::kAnonymous;
  std::string name;
  std::vector<std::string> roles;
};

// The groups that may change connectors, as in KurrentDB.
inline constexpr const char* kOperatorRoles[] = {"$admins", "$ops"};

// OK when `caller` may make the request: reads (`changes` false) need any authenticated user,
// changes need $admins or $ops; with kInsecure everything is allowed. Unauthenticated for
// anonymous callers, PermissionDenied (naming the user and the groups needed) otherwise.
absl::Status Authorize(const Caller& caller, bool changes);

// OK unless a state-changing request came from a page of another site: its Origin field (when
// present) must name the host the request was sent to (its Host field). "null" origins, which
// sandboxed pages and some redirects send, are refused too. PermissionDenied otherwise.
absl::Status CheckSameOrigin(absl::string_view origin, absl::string_view host);

// True for a Content-Type whose media type is exactly application/json (parameters such as
// charset allowed); browsers cannot send that cross-site without asking first.
bool IsJsonContentType(absl::string_view content_type);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_ACCESS_H_
