#include "core/text.h"

#include "absl/strings/str_format.h"

namespace esdb {

size_t FindControl(absl::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsControl(static_cast<unsigned char>(s[i]))) return i;
  }
  return absl::string_view::npos;
}

std::string EscapeControl(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (IsControl(c)) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string Excerpt(absl::string_view s, size_t max) {
  if (s.size() <= max) return EscapeControl(s);
  // Do not cut a UTF-8 sequence in half: back up over continuation bytes.
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return EscapeControl(s.substr(0, cut)) + "...";
}

}  // namespace esdb
