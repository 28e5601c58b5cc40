// The filter and page of a connector list, read from the query string of GET /connectors or from
// the JSON body of POST /connectors/list (and of GET /connectors, as KurrentDB 26.0 documented
// it). Both take KurrentDB's names (and their proto spellings) and this API's own. Pure.
#ifndef ESDB_MANAGEMENT_LIST_QUERY_H_
#define ESDB_MANAGEMENT_LIST_QUERY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "connector/connector.h"
#include "nlohmann/json.hpp"

namespace esdb {

struct ListQuery {
  // Each filter matches when it is empty or when the connector matches one of its values.
  std::vector<std::string> states;  // upper case: RUNNING, CONNECTOR_STATE_RUNNING, ...
  std::vector<std::string> instance_types;
  std::vector<std::string> connector_ids;
  std::optional<std::string> host;  // RUNNING connectors on this host only
  bool include_settings = false;
  bool include_configuration = false;
  bool show_deleted = false;
  // The page: page/pageSize become skip = (page - 1) * pageSize, take = pageSize.
  int64_t skip = 0;
  int64_t take = 100;

  // True when `c` passes every filter (not the page). Deleted connectors pass only with
  // show_deleted.
  bool Matches(const Connector& c) const;
};

// From a query string (raw, without '?'). Repeated `state`, `instanceTypeName` and
// `connectorId` add values; `state` also takes comma-separated ones. InvalidArgument naming the
// parameter for an unknown or repeated one, a bad boolean or number, or page/pageSize mixed with
// skip/take.
absl::StatusOr<ListQuery> ListQueryFromUrl(absl::string_view query);

// From a JSON object: {"state": [...], "instanceTypeName": [...], "connectorId": [...],
// "includeSettings", "includeConfiguration", "showDeleted", "paging": {"page", "pageSize"}}, and
// this API's "skip", "take", "host". InvalidArgument naming the field for anything else.
absl::StatusOr<ListQuery> ListQueryFromJson(const nlohmann::json& body);

// True when a state filter value selects a connector the views show in `state` (ViewStateName).
// This API's names match exactly (case-insensitively). KurrentDB's (`CONNECTOR_STATE_RUNNING`,
// or its number) match what KurrentDB means: it has no FAILED or DELETED, its failed and deleted
// connectors are STOPPED, so CONNECTOR_STATE_STOPPED selects all three. Unknown names match
// nothing.
bool StateFilterMatches(absl::string_view filter, absl::string_view state);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_LIST_QUERY_H_
