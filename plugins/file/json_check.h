// file-sink: decides whether event bytes can be embedded in the output as JSON.
#ifndef ESDB_PLUGINS_FILE_JSON_CHECK_H_
#define ESDB_PLUGINS_FILE_JSON_CHECK_H_

#include <cstddef>

namespace esdb_file_sink {

// True when text[0..size) is exactly one JSON value (RFC 8259) with optional surrounding
// whitespace, in well-formed UTF-8, with \u escapes that pair surrogates correctly: the same
// documents strict JSON parsers (nlohmann_json among them) accept, so whatever is embedded
// parses again. A leading UTF-8 byte order mark is not accepted. Nesting depth is limited only
// by memory (the check does not recurse). Allocates only for documents nested over 64 deep;
// may throw std::bad_alloc then.
bool IsJson(const char* text, size_t size);

}  // namespace esdb_file_sink

#endif  // ESDB_PLUGINS_FILE_JSON_CHECK_H_
