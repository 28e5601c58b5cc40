#include "management/access.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/text.h"

namespace esdb {
namespace {

// "host:port" without a port that is the default of `scheme`, lower-cased.
std::string Authority(absl::string_view authority, absl::string_view scheme) {
  std::string out = absl::AsciiStrToLower(authority);
  if (scheme == "http" && absl::EndsWith(out, ":80")) out.resize(out.size() - 3);
  if (scheme == "https" && absl::EndsWith(out, ":443")) out.resize(out.size() - 4);
  return out;
}

}  // namespace

absl::Status Authorize(const Caller& caller, bool changes) {
  switch (caller.kind) {
    case Caller::Kind::kInsecure:
      return absl::OkStatus();
    case Caller::Kind::kAnonymous:
      return absl::UnauthenticatedError(
          "credentials are required: send a user name and password (HTTP Basic)");
    case Caller::Kind::kUser:
      break;
  }
  if (!changes) return absl::OkStatus();
  for (const char* role : kOperatorRoles) {
    if (std::find(caller.roles.begin(), caller.roles.end(), role) != caller.roles.end()) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "user '", Excerpt(caller.name),
      "' may read connectors but not change them: that needs membership of $admins or $ops"));
}

absl::Status CheckSameOrigin(absl::string_view origin, absl::string_view host) {
  if (origin.empty()) return absl::OkStatus();  // not sent by a browser page
  absl::string_view rest = origin;
  std::string scheme;
  if (absl::ConsumePrefix(&rest, "http://")) {
    scheme = "http";
  } else if (absl::ConsumePrefix(&rest, "https://")) {
    scheme = "https";
  }
  if (!scheme.empty() && !host.empty() && Authority(rest, scheme) == Authority(host, scheme)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "cross-origin request refused: Origin '", Excerpt(origin), "' is not this host ('",
      Excerpt(host), "'); connectors can be changed only from pages this host serves"));
}

bool IsJsonContentType(absl::string_view content_type) {
  absl::string_view media = content_type.substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media), "application/json");
}

}  // namespace esdb
