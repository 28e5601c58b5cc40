#include "auth/stream_access.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/text.h"

namespace esdb::auth {

bool IsAdminOnlyStream(absl::string_view stream) {
  if (stream == kAllStream) return true;
  // "$$X" is X's metadata: it decides who may do what with X, so it is X's to protect.
  absl::string_view subject = stream;
  if (absl::StartsWith(subject, "$$") && subject.size() > 2) subject.remove_prefix(2);
  return subject == "$connectors" || absl::StartsWith(subject, "$connectors/") ||
         subject == "$connectors-hosts";
}

bool HasRole(const http::Principal& principal, absl::string_view role) {
  return principal.kind == http::Principal::Kind::kUser &&
         std::find(principal.roles.begin(), principal.roles.end(), role) != principal.roles.end();
}

absl::Status RequireAuthenticated(const http::Principal& principal) {
  if (principal.kind == http::Principal::Kind::kAnonymous) {
    return absl::UnauthenticatedError(
        "credentials are required: send a user name and password (HTTP Basic)");
  }
  return absl::OkStatus();
}

absl::Status AuthorizeStream(const http::Principal& principal, StreamOperation operation,
                             absl::string_view stream) {
  if (principal.kind == http::Principal::Kind::kInsecure) return absl::OkStatus();
  if (absl::Status s = RequireAuthenticated(principal); !s.ok()) return s;
  if (!IsAdminOnlyStream(stream) || HasRole(principal, kAdminsGroup)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("user '", Excerpt(principal.name), "' may not ",
                   operation == StreamOperation::kRead ? "read" : "write", " '", Excerpt(stream),
                   "': that needs membership of ", kAdminsGroup));
}

}  // namespace esdb::auth
