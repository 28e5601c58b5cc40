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

// The state a view shows: ConnectorStateName, or "DELETED" for a deleted connector (listed only
// with showDeleted).
std::string ViewStateName(const Connector& c);
// True for a connector that was created and then deleted (what showDeleted adds to a list).
bool IsDeleted(const Connector& c);

// How far a connector got: its last checkpoint in the current epoch, else the epoch's own
// position; with the time it was recorded (0: unknown).
struct Progress {
  std::optional<Position> position;
  int64_t at_us = 0;
  // What the runner still has to look at, when it runs on this host (ConnectorMetrics::Lag);
  // otherwise the view counts from `position`.
  std::optional<uint64_t> lag;
  // Records set aside in the dead-letter stream, and the last one's error and time, as the last
  // checkpoint of any epoch counts them.
  int64_t dead_letters = 0;
  std::string last_dead_letter_error;
  int64_t last_dead_letter_us = 0;
};

// Which optional parts a connector view has.
struct ViewParts {
  bool settings = false;       // "settings": the flat map, secrets redacted
  bool configuration = false;  // "configuration": the same nested (KurrentDB's includeConfiguration)
};

// GET /connectors items, GET /connectors/{id} and command responses. `end`: the log's last
// position (for the lag).
nlohmann::json ConnectorView(const Connector& c, const SinkPlugin* plugin, const Progress& progress,
                             std::optional<Position> end, ViewParts parts);

// The host's own settings (core/host_settings.h) as the first entry of GET /connector-plugins:
// "kind": "host", named "host", each setting with its type, default, range ("minimum",
// "maximum"), "unit" and, for keys accepted but without effect, "ignored": true.
nlohmann::json HostEntryView();
// A loaded plugin: "kind": "sink", name, version, description, settings table, its file and
// "loaded": true.
nlohmann::json PluginView(const SinkPlugin& plugin);
// A plugin file the host refused, in the same shape (empty name, version, description and
// settings) with "loaded": false and the reason as "error".
nlohmann::json RefusedPluginView(const RefusedPlugin& refused);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_VIEWS_H_
