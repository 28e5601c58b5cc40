#include "devnode/grpc_metadata_stream.h"

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "devnode/event_id.h"
#include "devnode/log_store.h"
#include "devnode/node_status.h"

namespace esdb::devnode {
namespace {

std::string Target(const std::string& metadata_stream) { return metadata_stream.substr(2); }

// Revision of the one-event view: 0 when metadata is set, -1 when not.
absl::StatusOr<int64_t> CurrentRevision(LogNode& node, const std::string& stream) {
  absl::StatusOr<std::string> json = node.GetStreamMetadata(stream);
  if (!json.ok()) return json.status();
  return *json == "{}" ? -1 : 0;
}

}  // namespace

bool IsMetadataStream(const std::string& stream) {
  return stream.size() > 2 && absl::StartsWith(stream, "$$");
}

absl::StatusOr<AppendResult> AppendMetadata(LogNode& node, const std::string& metadata_stream,
                                            int64_t expected_revision,
                                            const std::vector<AppendEvent>& events) {
  const std::string stream = Target(metadata_stream);
  for (const AppendEvent& e : events) {
    if (e.event_type != kMetadataEventType) {
      return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                       "only '$metadata' events may be written to a metadata stream");
    }
  }
  absl::StatusOr<int64_t> current = CurrentRevision(node, stream);
  if (!current.ok()) return current.status();
  if (absl::Status s = CheckExpectedRevision(metadata_stream, expected_revision, *current);
      !s.ok()) {
    return s;
  }
  AppendResult result;
  if (events.empty()) {
    result.next_expected_revision = *current < 0 ? kNoRevision : 0;
    return result;
  }
  // SetStreamMetadata validates the JSON object (and $maxCount) and reports INVALID_ARGUMENT.
  if (absl::Status s = node.SetStreamMetadata(stream, events.back().data); !s.ok()) return s;
  result.next_expected_revision = 0;
  return result;
}

absl::Status ReadMetadataStream(LogNode& node, const std::string& metadata_stream,
                                ReadDirection direction, uint64_t from_revision, uint64_t max_count,
                                const std::function<bool(const RecordedEvent&)>& on_event) {
  absl::StatusOr<std::string> json = node.GetStreamMetadata(Target(metadata_stream));
  if (!json.ok()) return json.status();
  if (*json == "{}") {
    return NodeError(ESDB_NODE_STREAM_NOT_FOUND, "the stream has no metadata");
  }
  // Forwards the range starts at from_revision; backwards it covers revision 0 from anywhere.
  const bool covers = direction == ReadDirection::kBackwards || from_revision == 0;
  if (!covers || max_count == 0) return absl::OkStatus();
  RecordedEvent event;
  event.stream = metadata_stream;
  event.revision = 0;
  event.position = 0;
  event.event_id = NewEventId();
  event.event_type = kMetadataEventType;
  event.content_type = "application/json";
  event.data = *std::move(json);
  event.created_unix_us = absl::ToUnixMicros(absl::Now());
  on_event(event);
  return absl::OkStatus();
}

}  // namespace esdb::devnode
