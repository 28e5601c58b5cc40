#include "devnode/log_filter.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/regex.h"

namespace esdb::devnode {

absl::StatusOr<LogFilter> LogFilter::Create(const esdb_subscribe_options& options) {
  LogFilter filter;
  if (options.filter_scope != ESDB_FILTER_NONE && options.filter_scope != ESDB_FILTER_STREAM &&
      options.filter_scope != ESDB_FILTER_EVENT_TYPE) {
    return absl::InvalidArgumentError(absl::StrCat("unknown filter scope ", options.filter_scope));
  }
  filter.scope_ = options.filter_scope;
  if (filter.scope_ == ESDB_FILTER_NONE) return filter;
  if (options.filter_regex != nullptr && options.filter_regex[0] != '\0') {
    auto re = CompileRegex(options.filter_regex, "filter regex");
    if (!re.ok()) return re.status();
    filter.regex_ = *std::move(re);
  }
  if (options.filter_prefix_count > 0 && options.filter_prefixes == nullptr) {
    return absl::InvalidArgumentError("filter_prefixes is NULL but filter_prefix_count > 0");
  }
  for (size_t i = 0; i < options.filter_prefix_count; ++i) {
    if (options.filter_prefixes[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("filter prefix ", i, " is NULL"));
    }
    filter.prefixes_.emplace_back(options.filter_prefixes[i]);
  }
  return filter;
}

bool LogFilter::Matches(const RecordedEvent& event) const {
  if (MatchesEverything()) return true;
  const std::string& subject = Subject(event);
  for (const std::string& prefix : prefixes_) {
    if (absl::StartsWith(subject, prefix)) return true;
  }
  return regex_ && RegexFound(*regex_, subject);
}

std::string LogFilter::Key() const {
  if (MatchesEverything()) return "";
  // Sizes before texts, so that no two lists of strings run together into one key.
  std::string key = absl::StrCat(scope_, ":");
  const std::string pattern = regex_ ? regex_->pattern() : "";
  absl::StrAppend(&key, pattern.size(), ":", pattern);
  for (const std::string& prefix : prefixes_) {
    absl::StrAppend(&key, ",", prefix.size(), ":", prefix);
  }
  return key;
}

}  // namespace esdb::devnode
