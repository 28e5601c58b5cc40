// Stream metadata over the client protocol, as EventStoreDB exposes it: the metadata of stream X
// lives in the stream "$$X", as events of type "$metadata" whose data is the JSON object.
//
// The dev node keeps metadata beside the log (LogNode::SetStreamMetadata), not as events, so
// "$$X" is presented as a stream of at most one event (revision 0, no $all position): appending
// "$metadata" events to it replaces X's metadata with the last event's data, and reading it
// gives the current metadata. Expected revisions are checked against that one-event view.
#ifndef ESDB_DEVNODE_GRPC_METADATA_STREAM_H_
#define ESDB_DEVNODE_GRPC_METADATA_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "devnode/log_node.h"

namespace esdb::devnode {

inline constexpr char kMetadataEventType[] = "$metadata";

// True for "$$X" with a non-empty X.
bool IsMetadataStream(const std::string& stream);

// Sets the metadata of the stream `metadata_stream` names. Statuses as LogNode::Append:
// INVALID_ARGUMENT for an event that is not "$metadata" or whose data is not a JSON object,
// WRONG_EXPECTED_VERSION when the expectation does not hold. Zero events write nothing.
absl::StatusOr<AppendResult> AppendMetadata(LogNode& node, const std::string& metadata_stream,
                                            int64_t expected_revision,
                                            const std::vector<AppendEvent>& events);

// Reads "$$X" as LogNode::ReadStream reads a stream: STREAM_NOT_FOUND when X has no metadata,
// else its one event when the range covers revision 0.
absl::Status ReadMetadataStream(LogNode& node, const std::string& metadata_stream,
                                ReadDirection direction, uint64_t from_revision, uint64_t max_count,
                                const std::function<bool(const RecordedEvent&)>& on_event);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_METADATA_STREAM_H_
