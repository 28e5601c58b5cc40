// Untrusted text on its way into messages and log lines: control characters escaped, length cut.
#ifndef ESDB_CORE_TEXT_H_
#define ESDB_CORE_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb {

// True for bytes below 0x20 and 0x7f (DEL): NUL, newline, escape sequences, ...
inline bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsUtf8(absl::string_view s);

// The first control character's offset in `s`, or npos.
size_t FindControl(absl::string_view s);

// `s` with every control character written as \n, \t, \r or \xHH and backslash as \\, so one
// value stays one line and cannot forge another (log lines, error messages).
std::string EscapeControl(absl::string_view s);

// `s` with its control characters written as EscapeControl writes them, backslashes left as they
// are: a whole log line, which stays one line (a single quoted value wants EscapeControl, whose
// backslashes keep it unambiguous).
std::string OneLine(absl::string_view s);

// EscapeControl of at most the first `max` bytes of `s`, with "..." when cut: safe to quote an
// untrusted value of any size in an error message.
std::string Excerpt(absl::string_view s, size_t max = 80);

// What '+' stands for in percent-encoded text: itself in a URL path, a space in a query string
// or form body (application/x-www-form-urlencoded).
enum class PlusSign { kLiteral, kSpace };

// Decodes %XX escapes (hex digits of either case), and '+' as `plus` says. InvalidArgument for a
// truncated or non-hex escape, and for %00, which no caller can want and which would cut the
// text short wherever it reaches a C string.
absl::StatusOr<std::string> PercentDecode(absl::string_view text, PlusSign plus);

}  // namespace esdb

#endif  // ESDB_CORE_TEXT_H_
