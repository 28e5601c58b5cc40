#include "core/json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace esdb {

bool JsonDepthWithin(absl::string_view text, size_t max_depth) {
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
      --depth;
    }
  }
  return true;
}

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, size_t max_depth,
                                         absl::string_view what) {
  if (!JsonDepthWithin(text, max_depth)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is nested more than ", max_depth, " levels deep"));
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON"));
  return doc;
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace esdb
