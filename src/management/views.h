// JSON views of connectors and plugins, as the API returns them.
#ifndef ESDB_MANAGEMENT_VIEWS_H_
#define ESDB_MANAGEMENT_VIEWS_H_

#include <optional>
#include <string>

#include "connector/connector.h"
#include "core/position.h"
#include "nlohmann/json.hpp"
#include "sinks/plugin.h"

namespace esdb {

inline constexpr char kRedacted[] = "******";

std::string FormatTime(int64_t unix_us);  // RFC 3339 UTC; "" for 0

// The connector's settings with every secret one redacted (never a clear or sealed secret).
nlohmann::json SettingsView(const Connector& connector, const SinkPlugin* plugin);

// GET /connectors and GET /connectors/{id} items. `position`: last checkpoint; `end`: the log's
// last position (for the lag).
nlohmann::json ConnectorView(const Connector& c, const SinkPlugin* plugin,
                             std::optional<Position> position, std::optional<Position> end,
                             bool with_settings);

nlohmann::json PluginView(const SinkPlugin& plugin);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_VIEWS_H_
