#include "core/text.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace esdb {

bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
    if (extra < 0 || c > 0xF4 || s.size() - i <= static_cast<size_t>(extra)) return false;
    uint32_t cp = c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

size_t FindControl(absl::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsControl(static_cast<unsigned char>(s[i]))) return i;
  }
  return absl::string_view::npos;
}

namespace {

std::string Escape(absl::string_view s, bool backslash) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == '\\' && backslash) {
          out += "\\\\";
        } else if (IsControl(c)) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += ch;
        }
    }
  }
  return out;
}

}  // namespace

std::string EscapeControl(absl::string_view s) { return Escape(s, /*backslash=*/true); }

std::string OneLine(absl::string_view s) { return Escape(s, /*backslash=*/false); }

std::string Excerpt(absl::string_view s, size_t max) {
  if (s.size() <= max) return EscapeControl(s);
  // Do not cut a UTF-8 sequence in half: back up over continuation bytes.
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return EscapeControl(s.substr(0, cut)) + "...";
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view text, PlusSign plus) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+' && plus == PlusSign::kSpace) {
      out.push_back(' ');
      continue;
    }
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (text.size() - i < 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated percent-escape at offset ", i, " in \"", Excerpt(text), "\""));
    }
    const int high = HexDigit(text[i + 1]);
    const int low = HexDigit(text[i + 2]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid percent-escape \"",
                                                     Excerpt(text.substr(i, 3)), "\" in \"",
                                                     Excerpt(text), "\""));
    }
    if (high == 0 && low == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("%00 is not allowed in \"", Excerpt(text), "\""));
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

}  // namespace esdb
