// Dead letters: records a sink refused for good (errors:tolerance=all), set aside in a stream
// with their own data and metadata and where they came from and why, so that they can be read,
// and replayed through the sink later.
//
// A dead letter is an event of the record's own type, content type and data; its metadata is a
// JSON object {"deadLetter": {context}, "metadata": original metadata text} ("metadataBase64"
// when the original is not UTF-8). Replays append ConnectorDeadLetterReplayed events beside
// them rather than deleting anything: the stream is the audit trail.
#ifndef ESDB_DELIVERY_DEAD_LETTERS_H_
#define ESDB_DELIVERY_DEAD_LETTERS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/position.h"
#include "core/record.h"
#include "node/node_client.h"

namespace esdb {

inline constexpr char kDeadLetterReplayedEvent[] = "ConnectorDeadLetterReplayed";

// Why and by whom a record was set aside.
struct DeadLetterContext {
  std::string connector_id;
  int64_t generation = 0;  // Connector::generation
  int64_t epoch = -1;      // Connector::epoch of the runner that set it aside
  std::string host;
  std::string error;     // the sink's message
  int64_t attempts = 0;  // writes of the record alone before it was set aside
  int64_t at_us = 0;
};

// The stream a connector writes its dead letters to: `setting` (errors:deadLetter:stream) when
// given, else DeadLetterStream(id, generation).
std::string ResolveDeadLetterStream(const std::string& setting, const std::string& connector_id,
                                    int64_t generation);

// The event id of the dead letter of the record at `position`, set aside by the runner of
// (connector, generation, epoch): the same inputs always give the same id, so a dead letter that
// is written again (after a crash before the checkpoint passed it) is recognised by its id, by
// DeadLetterWriter here and by a node that appends idempotently. A name-based UUID (version 8).
std::string DeadLetterEventId(const std::string& connector_id, int64_t generation, int64_t epoch,
                              Position position);

// The event that sets `record` aside.
EventData MakeDeadLetter(const Record& record, const DeadLetterContext& context);

// A dead letter read back: the record as it was in the log, and the context.
struct DeadLetter {
  uint64_t revision = 0;  // in the dead-letter stream
  int64_t stored_us = 0;  // when the node stored it (the event's time)
  Record record;
  DeadLetterContext context;
};
// nullopt when `event` is not a dead letter (a replay marker, or anything else in the stream).
std::optional<DeadLetter> ParseDeadLetter(const Record& event);

// One dead letter sent again by a replay: delivered (then it is no longer pending) or not.
struct ReplayOutcome {
  std::string connector_id;
  int64_t generation = 0;
  int64_t request = -1;   // Connector::replay_revision of the replay it belongs to
  uint64_t revision = 0;  // of the dead letter
  bool delivered = false;
  std::string error;  // when not delivered
};
EventData MakeReplayOutcome(const ReplayOutcome& outcome, const std::string& host);
std::optional<ReplayOutcome> ParseReplayOutcome(const Record& event);

// What a dead-letter stream holds for one connector generation.
struct DeadLetterLedger {
  std::vector<DeadLetter> pending;  // not delivered by a replay yet, in stream order
  int64_t total = 0;                // every dead letter of the connector, replayed or not
  int64_t replayed = 0;             // delivered by a replay
  std::set<uint64_t> tried;         // revisions a replay of `request` has sent already
};
// Reads `stream` (absent: an empty ledger). `request` selects `tried`.
absl::StatusOr<DeadLetterLedger> ReadDeadLetters(const NodeClient& node, const std::string& stream,
                                                 const std::string& connector_id,
                                                 int64_t generation, int64_t request = -1);

// Appends dead letters to one stream, each at most once: before it appends, it looks for the
// event's id among the stream's last kWindow events, and it appends with the revision it read as
// the expected revision (another writer in between: it looks again). The window bounds the
// check: a dead letter written before a crash is found again unless kWindow other events
// (other connectors sharing a user-named stream, replay markers) were appended after it before
// the restart.
class DeadLetterWriter {
 public:
  static constexpr uint64_t kWindow = 256;

  DeadLetterWriter(const NodeClient* node, std::string stream)
      : node_(node), stream_(std::move(stream)) {}

  // True when appended, false when it was there already. Errors are the node's.
  absl::StatusOr<bool> Append(const EventData& event) const;

  const std::string& stream() const { return stream_; }

 private:
  const NodeClient* node_;
  std::string stream_;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_DEAD_LETTERS_H_
