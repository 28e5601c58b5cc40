// The connector aggregate: commands are decided against the current state into events; the state
// is a fold over the events of the connector's stream ($connectors/{id}). Pure: no I/O.
#ifndef ESDB_CONNECTOR_CONNECTOR_H_
#define ESDB_CONNECTOR_CONNECTOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "core/position.h"
#include "core/record.h"
#include "core/settings.h"

namespace esdb {

enum class ConnectorState { kStopped, kActivating, kRunning, kDeactivating, kFailed };
const char* ConnectorStateName(ConnectorState state);  // "STOPPED", ...

// Current state of one connector, folded from its events.
struct Connector {
  std::string id;
  // Given at create or by a rename; empty when none was (views then show the id).
  std::string name;
  // Which streams hold it: 0 for $connectors/{id}, n for $connectors/{id}@n. A connector created
  // again after a delete gets a new generation, so it never depends on the old streams (which
  // may have been tombstoned behind the library's back). Recorded in the $connectors index.
  int64_t generation = 0;
  bool exists = false;    // created and not deleted
  int64_t revision = -1;  // revision of the last event folded; -1: no stream
  // Its stream vanished (deleted or tombstoned outside the library) after it had been read: it
  // shows FAILED with `error`, and only a delete is allowed.
  bool damaged = false;
  SettingsMap settings;    // secret values sealed, as stored (see `secrets`)
  SealedSecrets secrets;   // which settings are secret, and how to open them
  int64_t settings_update_us = 0;
  ConnectorState state = ConnectorState::kStopped;
  int64_t state_update_us = 0;
  std::string host;  // the host running it (RUNNING), or that last ran it
  // Why it failed, kept until it recovers (ConnectorRecovered), is enabled again or stopped: a
  // connector restarting after a failure still shows why.
  std::string error;
  int64_t error_us = 0;
  // The last failure is one a restart cannot cure (a configuration the sink refused at open,
  // settings that no longer parse, the start-attempt guard): no automatic restart follows it.
  bool failure_permanent = false;
  // Automatic restarts since the connector last recovered (or was enabled, stopped or reset): the
  // exponent of the restart backoff. And when the next one is due (Unix microseconds; 0: none
  // is scheduled). Written by the host that recorded the failure, so any host that takes the
  // connector over honours the same time.
  int restart_attempts = 0;
  int64_t restart_at_us = 0;
  // Revision of the last ConnectorRestarted or ConnectorDeadLetterReplayRequested: a runner
  // started before it is replaced by a new one (see Supervisor), -1 when none.
  int64_t restart_revision = -1;
  // Revision and time of the last ConnectorDeadLetterReplayRequested (-1: none): the runner that
  // starts after it first re-sends the dead letters stored before that time.
  int64_t replay_revision = -1;
  int64_t replay_us = 0;
  // Every create, reset and enable-from-position starts a new epoch, numbered by the revision of
  // its event. A checkpoint older than the epoch is ignored, and delivery restarts from
  // epoch_position (or subscription:initialPosition when it is empty).
  int64_t epoch = -1;
  std::optional<Position> epoch_position;
  int64_t settings_revision = -1;  // revision of the last create/reconfigure
  // Runner starts recorded since the connector last reached RUNNING (or was enabled, reset or
  // reconfigured). A host that dies while starting it leaves this count raised, so a connector
  // that takes its host down at every start is left FAILED instead of restarted forever.
  int start_attempts = 0;
  // Times (Unix microseconds, from the node's event times) of the create, the last event of any
  // kind, the delete (deleted connectors only), and the event that started the current epoch.
  int64_t create_us = 0;
  int64_t update_us = 0;
  int64_t delete_us = 0;
  int64_t epoch_us = 0;

  bool IsActive() const {
    return exists && (state == ConnectorState::kActivating || state == ConnectorState::kRunning);
  }
};

// Event types of the connector stream.
inline constexpr char kConnectorCreated[] = "ConnectorCreated";
inline constexpr char kConnectorReconfigured[] = "ConnectorReconfigured";
inline constexpr char kConnectorActivating[] = "ConnectorActivating";
inline constexpr char kConnectorStarting[] = "ConnectorStarting";
inline constexpr char kConnectorRunning[] = "ConnectorRunning";
inline constexpr char kConnectorDeactivating[] = "ConnectorDeactivating";
inline constexpr char kConnectorStopped[] = "ConnectorStopped";
inline constexpr char kConnectorFailed[] = "ConnectorFailed";
inline constexpr char kConnectorReset[] = "ConnectorReset";
inline constexpr char kConnectorDeleted[] = "ConnectorDeleted";
inline constexpr char kConnectorDataKeyRewrapped[] = "ConnectorDataKeyRewrapped";
inline constexpr char kConnectorRenamed[] = "ConnectorRenamed";
inline constexpr char kConnectorRestartScheduled[] = "ConnectorRestartScheduled";
inline constexpr char kConnectorRestarted[] = "ConnectorRestarted";
inline constexpr char kConnectorRecovered[] = "ConnectorRecovered";
inline constexpr char kConnectorDeadLetterReplayRequested[] = "ConnectorDeadLetterReplayRequested";

// Commands. User commands come from the management API, the others from the host running it.
namespace cmd {
// Settings arrive sealed (secrets/sealed_settings.h): the aggregate never sees a clear secret.
// `name` is optional (empty: none); see ValidateConnectorName.
struct Create { SettingsMap settings; SealedSecrets secrets; std::string name; };
struct Reconfigure { SettingsMap settings; SealedSecrets secrets; };
// The data key of the current settings, wrapped by another master key (key rotation).
struct RewrapDataKey { SealedSecrets secrets; };
struct Enable { std::optional<Position> from; };
struct Disable {};
struct Reset { std::optional<Position> to; };
struct Delete {};
struct Rename { std::string name; };
struct MarkStarting { std::string host; };
struct MarkRunning { std::string host; };
// `permanent`: a restart cannot cure it (no automatic restart). `restart_at_us` (0: none) also
// records a ConnectorRestartScheduled for then, as attempt restart_attempts + 1.
struct MarkFailed {
  std::string host;
  std::string error;
  bool permanent = false;
  int64_t restart_at_us = 0;
};
struct MarkStopped {};
// `requested`: POST /connectors/{id}/restart, allowed while FAILED, ACTIVATING or RUNNING (a
// running connector's runner is replaced). Otherwise the host's automatic restart of a FAILED
// connector whose restart is scheduled.
struct Restart {
  std::string host;
  bool requested = false;
};
// A runner delivered (or caught up) after a failure: the error and the restart count clear.
// Nothing to do when there is neither.
struct MarkRecovered {
  std::string host;
};
// POST /connectors/{id}/dead-letters/replay: the connector's runner is replaced, and the new one
// re-sends the dead letters before it goes on. ACTIVATING or RUNNING only.
struct ReplayDeadLetters {
  std::string by;
};
}  // namespace cmd
using Command = std::variant<cmd::Create, cmd::Reconfigure, cmd::Enable, cmd::Disable, cmd::Reset,
                             cmd::Delete, cmd::MarkStarting, cmd::MarkRunning, cmd::MarkFailed,
                             cmd::MarkStopped, cmd::RewrapDataKey, cmd::Rename, cmd::Restart,
                             cmd::MarkRecovered, cmd::ReplayDeadLetters>;

// Decides the events a command produces in `state`. NotFound when the connector does not exist,
// AlreadyExists for a second create, InvalidArgument for a create with a reserved id or a bad
// name and a rename to a bad name, FailedPrecondition (with what to do instead) for a command the
// state does not allow. An empty vector means "nothing to do": a rename to the current name, a
// disable of a connector that is already STOPPED or DEACTIVATING (as KurrentDB's stop).
absl::StatusOr<std::vector<EventData>> Decide(const Connector& state, const Command& command);

// Folds one event of the connector's stream into `state`. Unknown event types are skipped, so
// newer versions can add events.
void Apply(Connector& state, const Record& event);

// Marks `c` as damaged: its stream can no longer be read, though it was.
void MarkDamaged(Connector& c);

// Stream names, for a generation (see Connector::generation).
std::string ConnectorStream(const std::string& id, int64_t generation = 0);  // $connectors/{id}[@n]
std::string CheckpointStream(const std::string& id, int64_t generation = 0);  // .../checkpoints
// The default dead-letter stream (errors:deadLetter:stream absent): .../dead-letters. Like the
// other $connectors streams, no connector ever delivers it, and the registry ignores it.
std::string DeadLetterStream(const std::string& id, int64_t generation = 0);
// ConnectorIndexed events: one per id and generation, the last one current.
inline constexpr char kIndexStream[] = "$connectors";

// A stream of the library's connectors ($connectors/{id}[@n][/checkpoints]) taken apart. The
// dead-letter streams are not among them: nullopt, as for any stream the registry does not read.
struct ConnectorStreamName {
  std::string id;
  int64_t generation = 0;
  bool checkpoints = false;
};
std::optional<ConnectorStreamName> ParseConnectorStream(std::string_view stream);

// A connector's progress, as its runner records it in the checkpoint stream.
struct Checkpoint {
  Position position;  // everything up to here has been acknowledged by the sink
  int64_t epoch = -1;  // the connector epoch it belongs to (see Connector::epoch)
  std::string host;
  int64_t at_us = 0;  // when it was written (the event's time)
  // Records set aside in the dead-letter stream by this connector's runners so far, and the
  // last one's error and time: carried from checkpoint to checkpoint.
  int64_t dead_letters = 0;
  std::string last_dead_letter_error;
  int64_t last_dead_letter_us = 0;
};
inline constexpr char kCheckpointEvent[] = "ConnectorCheckpoint";
// nullopt when `event` is not a readable checkpoint.
std::optional<Checkpoint> ParseCheckpoint(const Record& event);

// Ids: 1..100 characters of [A-Za-z0-9._-], not starting with '.'. InvalidArgument otherwise.
absl::Status ValidateConnectorId(const std::string& id);
// The words the management API uses in its paths (POST /connectors/list, /connectors/{id}/start,
// ...). No new connector may take one as its id, in any case, so that no path can mean two things.
inline constexpr const char* kReservedConnectorIds[] = {
    "list", "settings", "configuration", "rename", "start", "stop",
    "enable", "disable", "reset", "restart", "dead-letters", "replay"};
// For a new connector: ValidateConnectorId, and not a reserved word. Existing connectors with
// such an id (created before the rule) stay readable.
absl::Status ValidateNewConnectorId(const std::string& id);
// Names, as KurrentDB checks them: 3 to 50 characters (Unicode code points), and here also no
// control characters. InvalidArgument naming the field otherwise.
absl::Status ValidateConnectorName(const std::string& name);
// The name views show: the given one, else the id.
inline const std::string& DisplayName(const Connector& c) { return c.name.empty() ? c.id : c.name; }

}  // namespace esdb

#endif  // ESDB_CONNECTOR_CONNECTOR_H_
