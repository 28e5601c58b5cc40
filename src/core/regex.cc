#include "core/regex.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/text.h"

namespace esdb {

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(absl::string_view pattern,
                                                             absl::string_view what) {
  re2::RE2::Options options;
  options.set_log_errors(false);  // the error goes back to the caller, not to stderr
  options.set_max_mem(kMaxRegexMemory);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()),
                                             options);
  if (re->ok()) return re;
  std::string why = re->error_code() == re2::RE2::ErrorPatternTooLarge
                        ? absl::StrCat("it is too large (compiled, it would exceed ",
                                       kMaxRegexMemory >> 10, " KiB)")
                        : absl::StrCat("RE2 refuses it: ", Excerpt(re->error()));
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": '", Excerpt(pattern), "' is not a usable regular expression: ", why,
                   " (the RE2 dialect: no back-references or look-around)"));
}

}  // namespace esdb
