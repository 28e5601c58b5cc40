// Request-target handling (RFC 9112 section 3.2): split path and query, percent-decode the path.
#ifndef ESDB_HTTP_TARGET_H_
#define ESDB_HTTP_TARGET_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace esdb::http {

struct Target {
  std::string path;   // percent-decoded
  std::string query;  // raw, without '?'
};

// Accepts origin-form ("/a/b?x=1"), absolute-form ("http://host/a?x=1", whose authority is
// dropped) and asterisk-form ("*"). InvalidArgument for anything else and for a path whose
// decoding fails (see PercentDecode).
absl::StatusOr<Target> ParseTarget(std::string_view target);

// Decodes %XX escapes; '+' stays '+' (it means space only in form bodies, never in a path).
// InvalidArgument for a truncated or non-hex escape, and for %00, which no route can want and
// which would truncate the path wherever it reaches a C string.
absl::StatusOr<std::string> PercentDecode(std::string_view text);

// Escapes everything but RFC 3986 unreserved characters, sub-delims, ':', '@' and '/', so the
// result is a valid path whose PercentDecode is `path`. For clients building targets.
std::string PercentEncodePath(std::string_view path);

}  // namespace esdb::http

#endif  // ESDB_HTTP_TARGET_H_
