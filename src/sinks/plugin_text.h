// Text a plugin hands the host (an err buffer, a completion message) on its way into error
// details and log lines: bounded and with control characters escaped, so that a remote response
// body quoted by a sink, however long or odd, never reaches them whole.
#ifndef ESDB_SINKS_PLUGIN_TEXT_H_
#define ESDB_SINKS_PLUGIN_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/text.h"

namespace esdb {

inline constexpr size_t kMaxPluginText = 400;

inline std::string PluginText(absl::string_view text) { return Excerpt(text, kMaxPluginText); }

// From a caller-supplied buffer, which a careless plugin may leave unterminated.
inline std::string PluginText(char* err, size_t size) {
  err[size - 1] = '\0';
  return PluginText(absl::string_view(err));
}

// `text` without a leading "<name>:" and the blanks after it. Plugins often start their messages
// with their own name; the host adds it where it is missing, never a second time.
inline absl::string_view WithoutPluginName(absl::string_view name, absl::string_view text) {
  if (!absl::StartsWith(text, name) || !absl::StartsWith(text.substr(name.size()), ":")) {
    return text;
  }
  return absl::StripLeadingAsciiWhitespace(text.substr(name.size() + 1));
}

// "<name>: <text>", naming the plugin once.
inline std::string WithPluginName(absl::string_view name, absl::string_view text) {
  return absl::StrCat(name, ": ", WithoutPluginName(name, text));
}

}  // namespace esdb

#endif  // ESDB_SINKS_PLUGIN_TEXT_H_
