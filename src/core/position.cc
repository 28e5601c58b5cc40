#include "core/position.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace esdb {

std::string Position::ToString() const {
  if (commit == prepare) return absl::StrCat(commit);
  return absl::StrCat(commit, "/", prepare);
}

namespace {

// One decimal number: digits only. absl::SimpleAtoi alone would also take a sign and surrounding
// whitespace, which no position has (and which a URL path would carry as %20 or %0A).
bool ParseNumber(absl::string_view digits, uint64_t* out) {
  if (digits.empty()) return false;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(digits, out);
}

}  // namespace

absl::StatusOr<Position> Position::Parse(std::string_view input) {
  absl::string_view text(input.data(), input.size());
  // Three parts at most: a third already makes it wrong, and a text of a million separators
  // must not make a million parts.
  std::vector<absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(absl::ByAnyChar("/:"), 2));
  Position p;
  if (parts.size() > 2 || !ParseNumber(parts[0], &p.commit) ||
      (parts.size() == 2 && !ParseNumber(parts[1], &p.prepare))) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::CHexEscape(text),
                     "' is not a log position (expected a number, or commit/prepare numbers)"));
  }
  if (parts.size() == 1) p.prepare = p.commit;
  return p;
}

}  // namespace esdb
