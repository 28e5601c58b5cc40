// How deep a JSON text nests, found without parsing it: header-only and dependency-free, so that
// sink plugins can check untrusted documents the same way the library does.
#ifndef ESDB_CORE_JSON_DEPTH_H_
#define ESDB_CORE_JSON_DEPTH_H_

#include <cstddef>
#include <string_view>

namespace esdb {

// True when no array or object in `text` is nested more than `max_depth` deep (a top-level
// object is level 1). One pass over the bytes, no allocation, no recursion; exact for valid JSON
// (brackets inside strings do not count), an upper bound otherwise, which is all a parser needs.
inline bool JsonDepthWithin(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;  // more closers than openers is not JSON; the parser says so
    }
  }
  return true;
}

}  // namespace esdb

#endif  // ESDB_CORE_JSON_DEPTH_H_
