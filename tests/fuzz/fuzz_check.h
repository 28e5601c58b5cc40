// What the harnesses share: a check that turns a broken property into a crash libFuzzer reports,
// and the way every text-format harness cuts its input into parts.
#ifndef ESDB_TESTS_FUZZ_FUZZ_CHECK_H_
#define ESDB_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

// Aborts (a libFuzzer crash, with the input saved) when `condition` is false. Unlike assert() it
// stays on whatever the build type. `...` is a printf format and its arguments, for context.
#define FUZZ_CHECK(condition, ...)                                                                \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, "" __VA_ARGS__);                                                       \
      std::fprintf(stderr, "\n");                                                                 \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)

namespace esdb::fuzz {

// Known findings that their owners are fixing are listed in regressions/OPEN, each with its
// input. Where such a finding would stop a harness within seconds, the harness steps around that
// one class of input (the condition names it, the comment names the OPEN entry) so that it keeps
// finding other things meanwhile. The fix removes the step-around with the OPEN line.
// With ESDB_FUZZ_KNOWN_OPEN=1 in the environment nothing is stepped around, so the OPEN inputs
// can be replayed to see them fail (or to see that a fix works).
inline bool StepAround(bool known_open_input) {
  static const bool disabled = std::getenv("ESDB_FUZZ_KNOWN_OPEN") != nullptr;
  return known_open_input && !disabled;
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// Debian's Abseil has its own string_view type; these cross between the two.
inline absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }
inline std::string_view Std(absl::string_view text) { return {text.data(), text.size()}; }

// Splits `text` at every `separator` (the separator is dropped; no part is skipped), so that
// seeds can be written by hand, one part a line or one request a block.
inline std::vector<std::string_view> Split(std::string_view text, std::string_view separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = text.find(separator);
    if (at == std::string_view::npos) {
      parts.push_back(text);
      return parts;
    }
    parts.push_back(text.substr(0, at));
    text.remove_prefix(at + separator.size());
  }
}

// Settings written as lines "key=value": the first '=' splits, a line without one is skipped.
// A value may hold '\r' and '\t' but not '\n'.
inline std::vector<std::pair<std::string, std::string>> SettingLines(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> settings;
  for (std::string_view line : Split(text, "\n")) {
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    settings.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return settings;
}

}  // namespace esdb::fuzz

#endif  // ESDB_TESTS_FUZZ_FUZZ_CHECK_H_
