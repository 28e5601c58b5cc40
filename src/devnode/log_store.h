// The storage seam of the log node: the in-memory and the SQLite log implement it, and the
// node's append validation, stream reads and subscriptions are written once on top of it.
#ifndef ESDB_DEVNODE_LOG_STORE_H_
#define ESDB_DEVNODE_LOG_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "devnode/stream_metadata.h"

namespace esdb::devnode {

// An event as stored in the log. Its position in $all is `position` (commit == prepare);
// positions start at 1 and increase by one per event.
struct RecordedEvent {
  uint64_t position = 0;
  std::string stream;
  uint64_t revision = 0;
  std::string event_id;  // canonical UUID text, lower case
  std::string event_type;
  std::string content_type;
  std::string data;
  std::string metadata;
  int64_t created_unix_us = 0;

  // Its bytes: the strings and payloads, plus a little for the rest.
  size_t ByteSize() const {
    return stream.size() + event_id.size() + event_type.size() + content_type.size() +
           data.size() + metadata.size() + 64;
  }
};

// An event ready to be stored: validated, with its id and creation time decided.
struct NewEvent {
  std::string event_id;
  std::string event_type;
  std::string content_type;
  std::string data;
  std::string metadata;
  int64_t created_unix_us = 0;
};

// Events for one stream, written if the stream is at `expected_revision` (a revision or one of
// ESDB_EXPECT_*).
struct StreamAppend {
  std::string stream;
  int64_t expected_revision = -2;  // ESDB_EXPECT_ANY
  std::vector<NewEvent> events;
};

// Where one StreamAppend left its stream.
struct AppendOutcome {
  // Revision of the stream's last event after the append; kNoRevision when the stream has no
  // events (possible only for an append of zero events).
  uint64_t last_revision = 0;
  // Position of the stream's last event; 0 when it has none.
  uint64_t last_position = 0;
};

inline constexpr uint64_t kNoRevision = UINT64_MAX;

struct StreamInfo {
  int64_t last_revision = -1;  // -1: no events (the stream may still have metadata)
  StreamMetadata metadata;
  bool tombstoned = false;  // deleted for ever: reads and writes fail with STREAM_DELETED
};

// The revision expectations are checked against: the last revision, or -1 when the stream has
// no events or was soft-deleted ("$tb" past its last event) and not written since.
int64_t EffectiveRevision(const StreamInfo& info);

enum class ReadDirection { kForwards, kBackwards };

// OK when a stream whose effective revision is `current` (-1: none) satisfies `expected`;
// WrongExpectedVersion (node_status.h) when it does not; InvalidArgument for an expectation that
// is neither a revision nor an ESDB_EXPECT_* value. Shared by every store so the rule is one.
absl::Status CheckExpectedRevision(const std::string& stream, int64_t expected, int64_t current);

// What every store checks before writing to (or deleting) a stream described by `info`:
// STREAM_DELETED when it is tombstoned, else CheckExpectedRevision against EffectiveRevision().
absl::Status CheckStreamWrite(const std::string& stream, const StreamInfo& info, int64_t expected);

// A read view of the log. Not thread-safe: one thread uses a reader at a time. Holds no lock
// between calls, so a caller may run callbacks while it owns a reader.
class LogReader {
 public:
  virtual ~LogReader() = default;

  // At most max_count events of $all from `from_position` inclusive, in `direction` order, and
  // no more after the one that brings their ByteSize() to `max_bytes` (so at least one).
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadAll(ReadDirection direction,
                                                             uint64_t from_position,
                                                             size_t max_count,
                                                             size_t max_bytes = SIZE_MAX) = 0;
  // At most max_count events of `stream` from `from_revision` inclusive, in `direction` order.
  // Ignores $maxCount (the node applies it); a missing stream reads as empty.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadStream(const std::string& stream,
                                                                ReadDirection direction,
                                                                uint64_t from_revision,
                                                                size_t max_count) = 0;
  // nullopt when the stream has neither events nor metadata.
  virtual absl::StatusOr<std::optional<StreamInfo>> GetStream(const std::string& stream) = 0;
};

// The log itself. Thread-safe.
class LogStore {
 public:
  virtual ~LogStore() = default;

  // Writes every append or none (one transaction): expectations are checked in order, so a
  // stream named twice sees its own earlier events. Returns one outcome per append. The first
  // unmet expectation fails the whole call with WrongExpectedVersion; a tombstoned stream fails it
  // with STREAM_DELETED. On success, `written` (if not null) receives the events written, in
  // position order, so that they can be handed to live subscriptions without reading them back.
  virtual absl::StatusOr<std::vector<AppendOutcome>> Append(
      std::vector<StreamAppend> appends, std::vector<RecordedEvent>* written) = 0;

  // Replaces a stream's metadata; the stream need not have events.
  virtual absl::Status SetStreamMetadata(const std::string& stream,
                                         const StreamMetadata& metadata) = 0;

  // Atomically with the check that the stream is at `expected_revision` (as for Append):
  // soft delete (tombstone false) sets "$tb" past the last event, so reads find no stream and a
  // later append recreates it with revisions continuing; a tombstone marks the stream deleted for
  // ever (it need not exist). STREAM_DELETED when the stream is already tombstoned.
  virtual absl::Status DeleteStream(const std::string& stream, int64_t expected_revision,
                                    bool tombstone) = 0;

  // Position of the last committed event, 0 when the log is empty. Cheap (no I/O). A reader
  // opened after Append() returned sees everything up to the position it reported.
  virtual uint64_t LastPosition() const = 0;

  virtual absl::StatusOr<std::unique_ptr<LogReader>> OpenReader() = 0;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_STORE_H_
