// Regular expressions from users (connector filters, filtered reads): RE2, linear in the subject.
#ifndef ESDB_CORE_REGEX_H_
#define ESDB_CORE_REGEX_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "re2/re2.h"

namespace esdb {

// Largest compiled program accepted, in bytes of RE2 memory. Ordinary filters use a few KiB; the
// cap keeps a hostile pattern (thousands of nested groups, huge repetition counts) from costing
// the node more than this.
inline constexpr int64_t kMaxRegexMemory = 1 << 20;

// Compiles `pattern` in RE2's syntax (Perl-like, without back-references or look-around).
// InvalidArgument, prefixed with `what`, when RE2 refuses it or it would exceed kMaxRegexMemory;
// the message says why and quotes at most the start of the pattern.
absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(absl::string_view pattern,
                                                             absl::string_view what);

// True when `re` matches somewhere in `subject` (searched, not anchored).
inline bool RegexFound(const re2::RE2& re, absl::string_view subject) {
  return re2::RE2::PartialMatch(re2::StringPiece(subject.data(), subject.size()), re);
}

}  // namespace esdb

#endif  // ESDB_CORE_REGEX_H_
