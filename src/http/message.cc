#include "http/message.h"

#include "absl/strings/match.h"
#include "http/absl_view.h"

namespace esdb::http {
namespace {

std::string FindHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                       std::string_view name) {
  for (const auto& [field, value] : headers) {
    if (absl::EqualsIgnoreCase(field, AbslView(name))) return value;
  }
  return "";
}

}  // namespace

std::string Request::Header(std::string_view name) const { return FindHeader(headers, name); }

std::string Response::Header(std::string_view name) const { return FindHeader(headers, name); }

}  // namespace esdb::http
