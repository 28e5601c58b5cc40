#include "connector/connector.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/text.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

using nlohmann::json;

json SecretsJson(const SealedSecrets& s) {
  return {{"keys", s.keys}, {"keyId", s.key_id}, {"dataKey", s.wrapped_data_key}};
}

// Fail closed: whatever cannot be read as secrets info leaves the connector with none, and its
// sealed values then never open (nor are they shown: see management/views.cc).
SealedSecrets SecretsFrom(const json& data) {
  SealedSecrets out;
  if (!data.contains("secrets") || !data["secrets"].is_object()) return out;
  const json& s = data["secrets"];
  if (s.contains("keys") && s["keys"].is_array()) {
    for (const json& k : s["keys"]) {
      if (k.is_string()) out.keys.push_back(k.get<std::string>());
    }
  }
  if (s.contains("keyId") && s["keyId"].is_string()) out.key_id = s["keyId"];
  if (s.contains("dataKey") && s["dataKey"].is_string()) out.wrapped_data_key = s["dataKey"];
  return out;
}

EventData Event(const char* type, json data) {
  EventData e;
  e.event_type = type;
  e.content_type = "application/json";
  e.data = data.dump();
  return e;
}

json SettingsJson(const SettingsMap& settings, const SealedSecrets& secrets) {
  json data = {{"settings", settings}};
  if (!secrets.keys.empty()) data["secrets"] = SecretsJson(secrets);
  return data;
}

json PositionJson(const std::optional<Position>& p) {
  return p ? json(p->ToString()) : json(nullptr);
}

std::optional<Position> PositionFrom(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return std::nullopt;
  auto p = Position::Parse(j[key].get<std::string>());
  if (!p.ok()) return std::nullopt;
  return *p;
}

absl::Status NotAllowed(const Connector& c, const std::string& what) {
  return absl::FailedPreconditionError(
      absl::StrCat("connector '", c.id, "' is ", ConnectorStateName(c.state), ": ", what));
}

}  // namespace

const char* ConnectorStateName(ConnectorState state) {
  switch (state) {
    case ConnectorState::kStopped: return "STOPPED";
    case ConnectorState::kActivating: return "ACTIVATING";
    case ConnectorState::kRunning: return "RUNNING";
    case ConnectorState::kDeactivating: return "DEACTIVATING";
    case ConnectorState::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

std::string ConnectorStream(const std::string& id, int64_t generation) {
  if (generation == 0) return absl::StrCat("$connectors/", id);
  return absl::StrCat("$connectors/", id, "@", generation);
}

std::string CheckpointStream(const std::string& id, int64_t generation) {
  return absl::StrCat(ConnectorStream(id, generation), "/checkpoints");
}

std::string DeadLetterStream(const std::string& id, int64_t generation) {
  return absl::StrCat(ConnectorStream(id, generation), "/dead-letters");
}

std::optional<ConnectorStreamName> ParseConnectorStream(std::string_view stream) {
  constexpr std::string_view kPrefix = "$connectors/";
  if (!stream.starts_with(kPrefix)) return std::nullopt;
  stream.remove_prefix(kPrefix.size());
  ConnectorStreamName out;
  if (size_t slash = stream.find('/'); slash != std::string_view::npos) {
    if (stream.substr(slash) != "/checkpoints") return std::nullopt;
    out.checkpoints = true;
    stream = stream.substr(0, slash);
  }
  if (size_t at = stream.find('@'); at != std::string_view::npos) {
    if (!absl::SimpleAtoi(absl::string_view(stream.data() + at + 1, stream.size() - at - 1),
                          &out.generation) ||
        out.generation < 1) {
      return std::nullopt;
    }
    stream = stream.substr(0, at);
  }
  out.id = std::string(stream);
  if (!ValidateConnectorId(out.id).ok()) return std::nullopt;
  return out;
}

std::optional<Checkpoint> ParseCheckpoint(const Record& event) {
  if (event.event_type != kCheckpointEvent) return std::nullopt;
  auto j = ParseJson(event.data, kMaxRequestJsonDepth, "checkpoint").value_or(nullptr);
  if (!j.is_object() || !j.contains("position") || !j["position"].is_object()) return std::nullopt;
  const json& p = j["position"];
  Checkpoint c;
  if (p.contains("commit") && p["commit"].is_number_unsigned()) c.position.commit = p["commit"];
  if (p.contains("prepare") && p["prepare"].is_number_unsigned()) c.position.prepare = p["prepare"];
  if (j.contains("epoch") && j["epoch"].is_number_integer()) c.epoch = j["epoch"];
  if (j.contains("host") && j["host"].is_string()) c.host = j["host"];
  c.at_us = event.created_unix_us;
  if (j.contains("deadLetters") && j["deadLetters"].is_object()) {
    const json& d = j["deadLetters"];
    if (d.contains("count") && d["count"].is_number_integer()) c.dead_letters = d["count"];
    if (d.contains("lastError") && d["lastError"].is_string()) {
      c.last_dead_letter_error = d["lastError"];
    }
    if (d.contains("lastAt") && d["lastAt"].is_number_integer())
      c.last_dead_letter_us = d["lastAt"];
  }
  return c;
}

void MarkDamaged(Connector& c) {
  c.damaged = true;
  c.exists = true;
  c.state = ConnectorState::kFailed;
  c.error = absl::StrCat("the connector's stream ", ConnectorStream(c.id, c.generation),
                         " was deleted outside the connectors library; delete the connector and "
                         "create it again");
}

absl::Status ValidateConnectorId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("connector id must not be empty");
  if (id.size() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("connector id is ", id.size(), " characters long; at most 100 are allowed"));
  }
  for (char ch : id) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "connector id '", Excerpt(id), "' may only contain letters, digits, '-', '_' and '.'"));
    }
  }
  if (id[0] == '.') return absl::InvalidArgumentError("connector id must not start with '.'");
  return absl::OkStatus();
}

absl::Status ValidateNewConnectorId(const std::string& id) {
  if (auto s = ValidateConnectorId(id); !s.ok()) return s;
  const std::string lower = absl::AsciiStrToLower(id);
  for (const char* word : kReservedConnectorIds) {
    if (lower == word) {
      return absl::InvalidArgumentError(absl::StrCat("connector id '", id,
                                                     "' is reserved: the management API uses '",
                                                     word, "' in its routes; choose another id"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateConnectorName(const std::string& name) {
  size_t chars = 0;
  for (unsigned char ch : name) {
    if (ch < 0x20 || ch == 0x7f) {
      return absl::InvalidArgumentError("name must not contain control characters");
    }
    chars += (ch & 0xc0) != 0x80;  // count code points, not UTF-8 continuation bytes
  }
  if (chars < 3 || chars > 50) {
    return absl::InvalidArgumentError(
        absl::StrCat("name must be 3 to 50 characters long, not ", chars));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EventData>> Decide(const Connector& c, const Command& command) {
  using S = ConnectorState;
  if (!std::holds_alternative<cmd::Create>(command) && !c.exists) {
    return absl::NotFoundError(absl::StrCat("connector '", c.id, "' does not exist"));
  }
  return std::visit(
      [&](const auto& x) -> absl::StatusOr<std::vector<EventData>> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, cmd::Create>) {
          if (c.exists) {
            return absl::AlreadyExistsError(absl::StrCat("connector '", c.id, "' already exists"));
          }
          if (auto s = ValidateNewConnectorId(c.id); !s.ok()) return s;
          json data = SettingsJson(x.settings, x.secrets);
          // As in KurrentDB, a name equal to the id needs no further check.
          if (!x.name.empty() && x.name != c.id) {
            if (auto s = ValidateConnectorName(x.name); !s.ok()) return s;
          }
          if (!x.name.empty()) data["name"] = x.name;
          return std::vector{Event(kConnectorCreated, std::move(data))};
        } else if constexpr (std::is_same_v<T, cmd::Reconfigure>) {
          return std::vector{Event(kConnectorReconfigured, SettingsJson(x.settings, x.secrets))};
        } else if constexpr (std::is_same_v<T, cmd::RewrapDataKey>) {
          if (x.secrets.key_id == c.secrets.key_id) return std::vector<EventData>{};
          return std::vector{Event(kConnectorDataKeyRewrapped,
                                   {{"settingsRevision", c.settings_revision},
                                    {"secrets", SecretsJson(x.secrets)}})};
        } else if constexpr (std::is_same_v<T, cmd::Enable>) {
          if (c.state != S::kStopped && c.state != S::kFailed) {
            return NotAllowed(c, "only a STOPPED or FAILED connector can be enabled");
          }
          return std::vector{Event(kConnectorActivating, {{"position", PositionJson(x.from)}})};
        } else if constexpr (std::is_same_v<T, cmd::Rename>) {
          if (auto s = ValidateConnectorName(x.name); !s.ok()) return s;
          if (x.name == DisplayName(c)) return std::vector<EventData>{};
          return std::vector{Event(kConnectorRenamed, {{"name", x.name}})};
        } else if constexpr (std::is_same_v<T, cmd::Disable>) {
          if (c.state == S::kFailed) return std::vector{Event(kConnectorStopped, json::object())};
          // Stopped, or stopping: nothing to do, as KurrentDB's stop.
          if (c.state == S::kStopped || c.state == S::kDeactivating) {
            return std::vector<EventData>{};
          }
          if (c.state != S::kActivating && c.state != S::kRunning) {
            return NotAllowed(c, "only a running or failed connector can be disabled");
          }
          return std::vector{Event(kConnectorDeactivating, json::object())};
        } else if constexpr (std::is_same_v<T, cmd::Reset>) {
          if (c.state != S::kStopped && c.state != S::kFailed) {
            return NotAllowed(c, "disable it before resetting it");
          }
          return std::vector{Event(kConnectorReset, {{"position", PositionJson(x.to)}})};
        } else if constexpr (std::is_same_v<T, cmd::Delete>) {
          if (c.state != S::kStopped && c.state != S::kFailed) {
            return NotAllowed(c, "disable it before deleting it");
          }
          return std::vector{Event(kConnectorDeleted, json::object())};
        } else if constexpr (std::is_same_v<T, cmd::MarkStarting>) {
          if (c.state != S::kActivating && c.state != S::kRunning) {
            return NotAllowed(c, "it cannot be started");
          }
          return std::vector{Event(kConnectorStarting, {{"host", x.host}})};
        } else if constexpr (std::is_same_v<T, cmd::MarkRunning>) {
          // Already recorded, unless a start since then is still counted.
          if (c.state == S::kRunning && c.host == x.host && c.start_attempts == 0) {
            return std::vector<EventData>{};
          }
          if (c.state != S::kActivating && c.state != S::kRunning) {
            return NotAllowed(c, "it cannot be marked running");
          }
          return std::vector{Event(kConnectorRunning, {{"host", x.host}})};
        } else if constexpr (std::is_same_v<T, cmd::MarkFailed>) {
          if (c.state != S::kActivating && c.state != S::kRunning) {
            return NotAllowed(c, "it cannot be marked failed");
          }
          json failed = {{"host", x.host}, {"error", x.error}};
          if (x.permanent) failed["permanent"] = true;
          std::vector events{Event(kConnectorFailed, std::move(failed))};
          if (x.restart_at_us > 0 && !x.permanent) {
            events.push_back(Event(kConnectorRestartScheduled,
                                   {{"attempt", c.restart_attempts + 1}, {"at", x.restart_at_us}}));
          }
          return events;
        } else if constexpr (std::is_same_v<T, cmd::Restart>) {
          if (x.requested) {
            if (c.state != S::kFailed && c.state != S::kActivating && c.state != S::kRunning) {
              return NotAllowed(c,
                                "only a FAILED or running connector can be restarted; enable it");
            }
          } else if (c.state != S::kFailed || c.failure_permanent || c.restart_at_us == 0) {
            return NotAllowed(c, "no restart is scheduled");
          }
          return std::vector{Event(
              kConnectorRestarted,
              {{"host", x.host}, {"attempt", c.restart_attempts}, {"requested", x.requested}})};
        } else if constexpr (std::is_same_v<T, cmd::MarkRecovered>) {
          if (c.error.empty() && c.restart_attempts == 0) return std::vector<EventData>{};
          if (c.state != S::kActivating && c.state != S::kRunning) {
            return NotAllowed(c, "it cannot be marked recovered");
          }
          return std::vector{Event(kConnectorRecovered, {{"host", x.host}})};
        } else if constexpr (std::is_same_v<T, cmd::ReplayDeadLetters>) {
          if (c.state != S::kActivating && c.state != S::kRunning) {
            return NotAllowed(c,
                              "dead letters are replayed through the connector's sink; start "
                              "(or restart) it first");
          }
          json data = json::object();
          if (!x.by.empty()) data["by"] = x.by;
          return std::vector{Event(kConnectorDeadLetterReplayRequested, std::move(data))};
        } else {
          static_assert(std::is_same_v<T, cmd::MarkStopped>);
          if (c.state != S::kDeactivating) return NotAllowed(c, "it cannot be marked stopped");
          return std::vector{Event(kConnectorStopped, json::object())};
        }
      },
      command);
}

void Apply(Connector& c, const Record& event) {
  c.revision = static_cast<int64_t>(event.revision);
  auto parsed = ParseJson(event.data, kMaxRequestJsonDepth, "connector event");
  json data = parsed.ok() && parsed->is_object() ? *std::move(parsed) : json::object();
  const std::string& t = event.event_type;
  const int64_t at = event.created_unix_us;
  c.update_us = at;
  auto set_state = [&](ConnectorState s) {
    c.state = s;
    c.state_update_us = at;
  };
  // An operator's enable or stop ends the failure story: the reason, the restarts.
  auto clear_failure = [&] {
    c.error.clear();
    c.failure_permanent = false;
    c.restart_attempts = 0;
    c.restart_at_us = 0;
  };
  auto set_settings = [&] {
    c.settings.clear();
    if (data.contains("settings") && data["settings"].is_object()) {
      for (auto& [k, v] : data["settings"].items()) {
        if (v.is_string()) c.settings[k] = v.get<std::string>();
      }
    }
    c.secrets = SecretsFrom(data);
    c.settings_update_us = at;
    c.settings_revision = c.revision;
  };
  if (t == kConnectorCreated) {
    Connector fresh;  // a re-created connector starts afresh
    fresh.id = std::move(c.id);
    fresh.generation = c.generation;
    fresh.revision = c.revision;
    c = std::move(fresh);
    c.exists = true;
    set_settings();
    set_state(ConnectorState::kStopped);
    if (data.contains("name") && data["name"].is_string()) c.name = data["name"];
    c.create_us = c.update_us = c.epoch_us = at;
    c.epoch = c.revision;
  } else if (t == kConnectorReconfigured) {
    set_settings();
    c.start_attempts = 0;
  } else if (t == kConnectorActivating) {
    set_state(ConnectorState::kActivating);
    clear_failure();
    c.start_attempts = 0;
    if (auto p = PositionFrom(data, "position")) {
      c.epoch = c.revision;
      c.epoch_position = p;
      c.epoch_us = at;
    }
  } else if (t == kConnectorStarting) {
    ++c.start_attempts;
  } else if (t == kConnectorRunning) {
    set_state(ConnectorState::kRunning);
    c.start_attempts = 0;
    if (data.contains("host") && data["host"].is_string()) c.host = data["host"];
  } else if (t == kConnectorDeactivating) {
    set_state(ConnectorState::kDeactivating);
  } else if (t == kConnectorStopped) {
    set_state(ConnectorState::kStopped);
    clear_failure();
  } else if (t == kConnectorFailed) {
    set_state(ConnectorState::kFailed);
    c.error = data.contains("error") && data["error"].is_string() ? data["error"].get<std::string>()
                                                                  : "unknown error";
    c.error_us = at;
    c.failure_permanent = data.contains("permanent") && data["permanent"] == true;
    c.restart_at_us = 0;  // a ConnectorRestartScheduled may follow
  } else if (t == kConnectorRestartScheduled) {
    if (data.contains("attempt") && data["attempt"].is_number_integer()) {
      c.restart_attempts = data["attempt"];
    }
    if (data.contains("at") && data["at"].is_number_integer()) c.restart_at_us = data["at"];
  } else if (t == kConnectorRestarted) {
    set_state(ConnectorState::kActivating);
    c.restart_at_us = 0;
    c.restart_revision = c.revision;
  } else if (t == kConnectorRecovered) {
    c.error.clear();
    c.failure_permanent = false;
    c.restart_attempts = 0;
  } else if (t == kConnectorDeadLetterReplayRequested) {
    c.replay_revision = c.revision;
    c.replay_us = at;
    c.restart_revision = c.revision;
  } else if (t == kConnectorReset) {
    c.start_attempts = 0;
    c.epoch = c.revision;
    c.epoch_position = PositionFrom(data, "position");
    c.epoch_us = at;
  } else if (t == kConnectorRenamed) {
    if (data.contains("name") && data["name"].is_string()) c.name = data["name"];
  } else if (t == kConnectorDataKeyRewrapped) {
    // Only for the settings it was made for: a rewrap that lost a race with a reconfigure is moot.
    const json& rev = data.contains("settingsRevision") ? data["settingsRevision"] : json();
    if (rev.is_number_integer() && rev.get<int64_t>() == c.settings_revision) {
      c.secrets = SecretsFrom(data);
    }
  } else if (t == kConnectorDeleted) {
    c.exists = false;
    set_state(ConnectorState::kStopped);
    c.delete_us = at;
  }
}

}  // namespace esdb
