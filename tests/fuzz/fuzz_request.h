// Hand-written HTTP requests for the request-level harnesses: "METHOD target", header lines
// "Name: value", an empty line, then the body. A request whose first line a server would refuse
// (no method, a target that does not parse) decodes to nullopt.
#ifndef ESDB_TESTS_FUZZ_FUZZ_REQUEST_H_
#define ESDB_TESTS_FUZZ_FUZZ_REQUEST_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "fuzz/fuzz_check.h"
#include "http/message.h"
#include "http/target.h"

namespace esdb::fuzz {

inline std::optional<http::Request> DecodeRequest(std::string_view text) {
  const size_t end_of_line = text.find('\n');
  std::string_view first = text.substr(0, end_of_line);
  text = end_of_line == std::string_view::npos ? "" : text.substr(end_of_line + 1);
  const size_t space = first.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  absl::StatusOr<http::Target> target = http::ParseTarget(first.substr(space + 1));
  if (!target.ok()) return std::nullopt;
  http::Request request;
  request.method = std::string(first.substr(0, space));
  request.path = std::move(target->path);
  request.query = std::move(target->query);
  while (!text.empty() && text[0] != '\n') {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? "" : text.substr(eol + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    request.headers.emplace_back(std::string(line.substr(0, colon)),
                                 std::string(absl::StripAsciiWhitespace(Absl(line.substr(colon + 1)))));
  }
  if (!text.empty()) text.remove_prefix(1);  // the empty line
  request.body = std::string(text);
  return request;
}

}  // namespace esdb::fuzz

#endif  // ESDB_TESTS_FUZZ_FUZZ_REQUEST_H_
