// Internal to http/: Debian's Abseil has its own string_view type (not std::string_view), so
// std::string_view values are converted explicitly before reaching absl::StrCat and friends.
#ifndef ESDB_HTTP_ABSL_VIEW_H_
#define ESDB_HTTP_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace esdb::http {

inline absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace esdb::http

#endif  // ESDB_HTTP_ABSL_VIEW_H_
