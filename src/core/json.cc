#include "core/json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace esdb {

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, size_t max_depth,
                                         absl::string_view what) {
  if (!JsonDepthWithin(std::string_view(text.data(), text.size()), max_depth)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is nested more than ", max_depth, " levels deep"));
  }
  // nlohmann_json stops at a NUL as if the text ended there; JSON text never holds one raw.
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON (it holds a NUL)"));
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON"));
  return doc;
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace esdb
