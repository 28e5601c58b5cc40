#include "devnode/grpc_convert.h"

#include "absl/strings/str_cat.h"
#include "protocol/event_time.h"

namespace esdb::devnode {

using event_store::client::streams::BatchAppendReq;
using event_store::client::streams::ReadResp;

void ToReadEvent(const RecordedEvent& event, protocol::UuidForm form, ReadResp::ReadEvent* out) {
  ReadResp::ReadEvent::RecordedEvent* e = out->mutable_event();
  absl::StatusOr<event_store::client::UUID> id = protocol::UuidFromText(event.event_id, form);
  if (id.ok()) {
    *e->mutable_id() = *std::move(id);
  } else {
    // Stored ids are canonical; should one not be, clients still get a value (they require one).
    e->mutable_id()->set_string(event.event_id);
  }
  e->mutable_stream_identifier()->set_stream_name(event.stream);
  e->set_stream_revision(event.revision);
  e->set_prepare_position(event.position);
  e->set_commit_position(event.position);
  auto& metadata = *e->mutable_metadata();
  metadata["type"] = event.event_type;
  metadata["content-type"] = event.content_type;
  metadata["created"] = protocol::CreatedTicks(event.created_unix_us);
  e->set_custom_metadata(event.metadata);
  e->set_data(event.data);
  out->set_commit_position(event.position);
}

absl::StatusOr<AppendEvent> ToAppendEvent(
    const event_store::client::UUID& id,
    const google::protobuf::Map<std::string, std::string>& metadata,
    const std::string& custom_metadata, const std::string& data) {
  auto type = metadata.find("type");
  auto content_type = metadata.find("content-type");
  if (type == metadata.end() || type->second.empty() || content_type == metadata.end() ||
      content_type->second.empty()) {
    return absl::FailedPreconditionError("missing required metadata");
  }
  AppendEvent out;
  absl::StatusOr<std::string> text = protocol::UuidToText(id);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat("event id: ", text.status().message()));
  out.event_id = *std::move(text);
  out.event_type = type->second;
  out.content_type = content_type->second;
  out.data = data;
  out.metadata = custom_metadata;
  return out;
}

absl::StatusOr<int64_t> BatchExpectedRevision(const BatchAppendReq::Options& options) {
  switch (options.expected_stream_position_case()) {
    case BatchAppendReq::Options::kStreamPosition:
      if (options.stream_position() > static_cast<uint64_t>(INT64_MAX)) {
        return absl::InvalidArgumentError("the expected revision is too big");
      }
      return static_cast<int64_t>(options.stream_position());
    case BatchAppendReq::Options::kNoStream:
      return ESDB_EXPECT_NO_STREAM;
    case BatchAppendReq::Options::kAny:
      return ESDB_EXPECT_ANY;
    case BatchAppendReq::Options::kStreamExists:
      return ESDB_EXPECT_STREAM_EXISTS;
    default:
      return absl::InvalidArgumentError("the expected stream position is missing");
  }
}

absl::StatusOr<std::string> StreamName(bool has_identifier,
                                       const event_store::client::StreamIdentifier& identifier) {
  if (!has_identifier || identifier.stream_name().empty()) {
    return absl::InvalidArgumentError("the stream identifier is missing or empty");
  }
  return identifier.stream_name();
}

}  // namespace esdb::devnode
