#include "core/position.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace esdb {

std::string Position::ToString() const {
  if (commit == prepare) return absl::StrCat(commit);
  return absl::StrCat(commit, "/", prepare);
}

absl::StatusOr<Position> Position::Parse(std::string_view input) {
  absl::string_view text(input.data(), input.size());
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::ByAnyChar("/:"));
  Position p;
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a log position (expected a number, or commit/prepare numbers)"));
  };
  if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &p.commit) || parts[0].empty() ||
      parts[0][0] == '-' || parts[0][0] == '+') {
    return bad();
  }
  p.prepare = p.commit;
  if (parts.size() == 2 && (parts[1].empty() || parts[1][0] == '-' || parts[1][0] == '+' ||
                            !absl::SimpleAtoi(parts[1], &p.prepare))) {
    return bad();
  }
  return p;
}

}  // namespace esdb
