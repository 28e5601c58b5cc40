// The server-side filter of a $all subscription (esdb_subscribe_options), compiled once.
#ifndef ESDB_DEVNODE_LOG_FILTER_H_
#define ESDB_DEVNODE_LOG_FILTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "devnode/log_store.h"
#include "re2/re2.h"
#include "esdb/node.h"

namespace esdb::devnode {

class LogFilter {
 public:
  // Matches everything.
  LogFilter() = default;

  // From the filter fields of `options` (filter_scope, filter_regex, filter_prefixes); other
  // fields are ignored. InvalidArgument for an unknown scope, a regex RE2 refuses (see
  // core/regex.h), or prefixes given as NULL with a non-zero count.
  static absl::StatusOr<LogFilter> Create(const esdb_subscribe_options& options);

  // With a scope, the subject (stream id or event type) matches when the regex is found in it or
  // it starts with one of the prefixes; with neither a regex nor prefixes, or no scope,
  // everything matches. Thread-safe.
  bool Matches(const RecordedEvent& event) const;

  // What the node's live tail indexes subscriptions by (log_tail.h).
  bool MatchesEverything() const {
    return scope_ == ESDB_FILTER_NONE || (!regex_ && prefixes_.empty());
  }
  // A scope and prefixes, no regex: matches exactly when Subject() starts with a prefix.
  bool PrefixesOnly() const { return scope_ != ESDB_FILTER_NONE && !regex_ && !prefixes_.empty(); }
  int32_t scope() const { return scope_; }
  const std::vector<std::string>& prefixes() const { return prefixes_; }
  // The stream id or event type, as the scope says (the stream id without a scope).
  const std::string& Subject(const RecordedEvent& event) const {
    return scope_ == ESDB_FILTER_EVENT_TYPE ? event.event_type : event.stream;
  }
  // The same for two filters that match the same events by the same rule.
  std::string Key() const;

 private:
  int32_t scope_ = ESDB_FILTER_NONE;
  std::shared_ptr<const re2::RE2> regex_;
  std::vector<std::string> prefixes_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_FILTER_H_
