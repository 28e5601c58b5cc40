// Position::Parse (core/position.h) on any text: the connector API takes positions from URL
// paths (/enable/{position}, /reset/{position}) and from settings (subscription:initialPosition).
//
// Properties: only the documented grammar is accepted ("C", "C/P" or "C:P", decimal digits), and
// whatever is accepted prints back (ToString) to text that parses to the same position.
#include <cstdint>
#include <string>

#include "core/position.h"
#include "fuzz/fuzz_check.h"

namespace {

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The grammar of position.h, written independently of the parser.
bool Documented(std::string_view text) {
  size_t sep = text.find_first_of("/:");
  if (sep == std::string_view::npos) return IsDigits(text);
  return IsDigits(text.substr(0, sep)) && IsDigits(text.substr(sep + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = esdb::fuzz::AsText(data, size);
  absl::StatusOr<esdb::Position> parsed = esdb::Position::Parse(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(Documented(text), "accepted '%s', which is not C, C/P or C:P",
             std::string(text).c_str());
  const std::string printed = parsed->ToString();
  absl::StatusOr<esdb::Position> again = esdb::Position::Parse(printed);
  FUZZ_CHECK(again.ok() && *again == *parsed, "'%s' printed as '%s' does not parse back",
             std::string(text).c_str(), printed.c_str());
  return 0;
}
