// JSON from outside the process (request bodies, settings, event payloads): parsed with a depth
// limit and serialized without throwing.
//
// nlohmann::json parses without recursion, but copying, comparing, dumping and our own walks
// recurse once per level, so a document nested 100,000 deep must never become a tree.
#ifndef ESDB_CORE_JSON_H_
#define ESDB_CORE_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/json_depth.h"
#include "nlohmann/json.hpp"

namespace esdb {

// Depth of requests and settings: ample for `{"settings": {"a": {"b": ...}}}`.
inline constexpr size_t kMaxRequestJsonDepth = 32;
// Depth of event payloads the node has to look into (data and metadata of appends, reads).
inline constexpr size_t kMaxEventJsonDepth = 256;

// Parses `text` as one JSON document. InvalidArgument, prefixed with `what`, for text that is not
// JSON or is nested more than `max_depth` deep (no tree is built for it).
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, size_t max_depth,
                                         absl::string_view what);

// `value` as compact JSON text; invalid UTF-8 in strings becomes U+FFFD instead of an exception.
std::string DumpJson(const nlohmann::json& value);

}  // namespace esdb

#endif  // ESDB_CORE_JSON_H_
