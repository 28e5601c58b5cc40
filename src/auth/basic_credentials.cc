#include "auth/basic_credentials.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace esdb::auth {
namespace {

// Far above any real user name and password; keeps a hostile field from costing a big decode.
constexpr size_t kMaxEncodedSize = 8 * 1024;

bool HasControl(absl::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::optional<BasicCredentials>> ParseAuthorization(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return std::nullopt;
  const size_t space = value.find(' ');
  const absl::string_view scheme = value.substr(0, space);
  if (!absl::EqualsIgnoreCase(scheme, "Basic")) {
    return absl::UnauthenticatedError(
        "only HTTP Basic credentials are accepted (Authorization: Basic base64(user:password))");
  }
  const absl::string_view encoded = space == absl::string_view::npos
                                        ? ""
                                        : absl::StripLeadingAsciiWhitespace(value.substr(space));
  if (encoded.empty() || encoded.size() > kMaxEncodedSize) {
    return absl::UnauthenticatedError("malformed Basic credentials");
  }
  std::string decoded;
  if (!absl::Base64Unescape(encoded, &decoded)) {
    return absl::UnauthenticatedError("malformed Basic credentials: not base64");
  }
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::UnauthenticatedError("malformed Basic credentials: expected user:password");
  }
  BasicCredentials out{decoded.substr(0, colon), decoded.substr(colon + 1)};
  // A user name is printed in logs and error messages: keep it one printable line.
  if (HasControl(out.user)) {
    return absl::UnauthenticatedError(
        "malformed Basic credentials: control characters in the user");
  }
  return out;
}

std::string BasicAuthorization(absl::string_view user, absl::string_view password) {
  return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(user, ":", password)));
}

}  // namespace esdb::auth
