// Which records a connector delivers: a stream-id or event-type filter, system streams excluded.
#ifndef ESDB_CORE_FILTER_H_
#define ESDB_CORE_FILTER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "re2/re2.h"

namespace esdb {

enum class FilterScope { kStream, kRecord };           // subject: stream id | event type
enum class FilterType { kNone, kStreamId, kRegex, kPrefix };

struct FilterSpec {
  FilterScope scope = FilterScope::kStream;
  FilterType type = FilterType::kNone;
  // kStreamId: one exact stream id; kRegex: an RE2 regular expression (searched, not anchored);
  // kPrefix: comma-separated prefixes.
  std::string expression;
  bool include_system = false;  // deliver `$`-streams too (never the connectors' own streams)
};

// What can be pushed down to the node's server-side filter (esdb_subscribe_options). It selects a
// superset of what Filter::Matches accepts; the library always applies Matches too.
// The node-side filter of a connector without a filter (and without includeSystem): every
// stream whose name does not start with `$`.
inline constexpr std::string_view kNotSystemStreamRegex = "^[^$]|^$";

struct ServerFilter {
  FilterScope scope = FilterScope::kStream;
  bool enabled = false;  // false: no server-side filter
  std::string regex;     // empty: none
  std::vector<std::string> prefixes;
};

class Filter {
 public:
  // InvalidArgument naming the key (subscription:filter:expression) for a bad regex or an empty
  // expression where one is needed.
  static absl::StatusOr<Filter> Create(const FilterSpec& spec);

  // True when a record of `stream` with `event_type` must be delivered. Thread-safe.
  bool Matches(std::string_view stream, std::string_view event_type) const;

  ServerFilter ToServerFilter() const;
  const FilterSpec& spec() const { return spec_; }

 private:
  FilterSpec spec_;
  std::vector<std::string> prefixes_;
  std::shared_ptr<const re2::RE2> regex_;
};

// True for streams the library itself writes ($connectors, $connectors/...), which no connector
// may ever receive.
bool IsConnectorsStream(std::string_view stream);

}  // namespace esdb

#endif  // ESDB_CORE_FILTER_H_
