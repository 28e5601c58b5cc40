#include "http/target.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/text.h"
#include "http/absl_view.h"

namespace esdb::http {
namespace {

bool KeptVerbatim(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':  // unreserved
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':  // sub-delims
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
    case '/':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string PercentEncodePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (KeptVerbatim(byte)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

absl::StatusOr<Target> ParseTarget(std::string_view target) {
  if (target == "*") return Target{"*", ""};
  absl::string_view rest = AbslView(target);
  for (absl::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWithIgnoreCase(rest, scheme)) {
      rest.remove_prefix(scheme.size());
      const size_t path_start = rest.find_first_of("/?");
      rest =
          path_start == absl::string_view::npos ? absl::string_view("/") : rest.substr(path_start);
      // "http://host?x" has an empty path, which means "/".
      if (!rest.empty() && rest.front() == '?') return ParseTarget(absl::StrCat("/", rest));
      break;
    }
  }
  if (rest.empty() || rest.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat("request target \"", AbslView(target),
                                                   "\" is neither a path nor an absolute URL"));
  }
  Target out;
  const size_t question = rest.find('?');
  if (question != absl::string_view::npos) {
    out.query = std::string(rest.substr(question + 1));
    rest = rest.substr(0, question);
  }
  absl::StatusOr<std::string> path = PercentDecode(rest, PlusSign::kLiteral);
  if (!path.ok()) return path.status();
  out.path = *std::move(path);
  return out;
}

}  // namespace esdb::http
