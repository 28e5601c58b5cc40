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
// decoding fails (core/text.h PercentDecode, '+' staying '+': it means a space only in query
// strings and form bodies, never in a path).
absl::StatusOr<Target> ParseTarget(std::string_view target);

// Escapes everything but RFC 3986 unreserved characters, sub-delims, ':', '@' and '/', so the
// result is a valid path that PercentDecode (PlusSign::kLiteral) turns back into `path`. For
// clients building targets.
std::string PercentEncodePath(std::string_view path);

}  // namespace esdb::http

#endif  // ESDB_HTTP_TARGET_H_
