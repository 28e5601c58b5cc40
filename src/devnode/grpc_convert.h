// Conversions between the client protocol's messages and the log node's types.
#ifndef ESDB_DEVNODE_GRPC_CONVERT_H_
#define ESDB_DEVNODE_GRPC_CONVERT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "devnode/log_node.h"
#include "devnode/log_store.h"
#include "google/protobuf/map.h"
#include "protocol/uuid.h"
#include "shared.pb.h"
#include "streams.pb.h"

namespace esdb::devnode {

// Fills `out` with `event` as official clients expect it: id in `form`, stream, revision, both
// positions, the system metadata (type, content-type, created in .NET ticks), custom metadata and
// data, and the event's commit position.
void ToReadEvent(const RecordedEvent& event, protocol::UuidForm form,
                 event_store::client::streams::ReadResp::ReadEvent* out);

// A proposed message (Append or BatchAppend) as an event to append. FailedPrecondition when the
// required "type" or "content-type" metadata is missing or empty; InvalidArgument for a bad id.
absl::StatusOr<AppendEvent> ToAppendEvent(
    const event_store::client::UUID& id,
    const google::protobuf::Map<std::string, std::string>& metadata,
    const std::string& custom_metadata, const std::string& data);

// What a proposed message counts against the maximum append size.
inline size_t ProposedSize(const google::protobuf::Map<std::string, std::string>& metadata,
                           const std::string& custom_metadata, const std::string& data) {
  size_t size = custom_metadata.size() + data.size();
  for (const auto& [key, value] : metadata) size += key.size() + value.size();
  return size;
}

// The expected revision of an append or delete (a revision or ESDB_EXPECT_*); InvalidArgument
// when none is set or the revision does not fit an int64.
template <typename Options>
absl::StatusOr<int64_t> ExpectedRevision(const Options& options) {
  switch (options.expected_stream_revision_case()) {
    case Options::kRevision:
      if (options.revision() > static_cast<uint64_t>(INT64_MAX)) break;
      return static_cast<int64_t>(options.revision());
    case Options::kNoStream:
      return ESDB_EXPECT_NO_STREAM;
    case Options::kAny:
      return ESDB_EXPECT_ANY;
    case Options::kStreamExists:
      return ESDB_EXPECT_STREAM_EXISTS;
    default:
      return absl::InvalidArgumentError("the expected stream revision is missing");
  }
  return absl::InvalidArgumentError("the expected revision is too big");
}

absl::StatusOr<int64_t> BatchExpectedRevision(
    const event_store::client::streams::BatchAppendReq::Options& options);

// The stream name of an identifier; InvalidArgument when missing or empty.
absl::StatusOr<std::string> StreamName(bool has_identifier,
                                       const event_store::client::StreamIdentifier& identifier);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_CONVERT_H_
