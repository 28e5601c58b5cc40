#include "sidecar/event_view.h"

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "protocol/event_time.h"
#include "protocol/uuid.h"

namespace esdb::sidecar {
namespace {

const char* Metadata(const google::protobuf::Map<std::string, std::string>& metadata,
                     const char* key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? "" : it->second.c_str();
}

}  // namespace

void FillEventView(const event_store::client::streams::ReadResp::ReadEvent::RecordedEvent& event,
                   EventView* out) {
  absl::StatusOr<std::string> id = protocol::UuidToText(event.id());
  std::memset(out->id, 0, sizeof(out->id));
  if (id.ok() && id->size() < sizeof(out->id)) std::memcpy(out->id, id->data(), id->size());
  int64_t ticks = 0;
  if (!absl::SimpleAtoi(Metadata(event.metadata(), "created"), &ticks)) ticks = 0;

  esdb_recorded_event& v = out->view;
  v = esdb_recorded_event{};
  v.struct_size = sizeof(v);
  v.stream = event.stream_identifier().stream_name().c_str();
  v.revision = event.stream_revision();
  v.position = esdb_position{event.commit_position(), event.prepare_position()};
  v.event_id = out->id;
  v.event_type = Metadata(event.metadata(), "type");
  v.content_type = Metadata(event.metadata(), "content-type");
  v.data = reinterpret_cast<const uint8_t*>(event.data().data());
  v.data_size = event.data().size();
  v.metadata = reinterpret_cast<const uint8_t*>(event.custom_metadata().data());
  v.metadata_size = event.custom_metadata().size();
  v.created_unix_us = ticks / protocol::kTicksPerMicrosecond;
}

}  // namespace esdb::sidecar
