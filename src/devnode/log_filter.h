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

 private:
  int32_t scope_ = ESDB_FILTER_NONE;
  std::shared_ptr<const re2::RE2> regex_;
  std::vector<std::string> prefixes_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_FILTER_H_
