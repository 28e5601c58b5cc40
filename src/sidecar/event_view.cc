#include "sidecar/event_view.h"

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "protocol/event_time.h"
#include "protocol/uuid.h"

namespace esdb::sidecar {
namespace {

const std::string& Metadata(const google::protobuf::Map<std::string, std::string>& metadata,
                            const char* key) {
  static const std::string kNone;
  auto it = metadata.find(key);
  return it == metadata.end() ? kNone : it->second;
}

// `text` as a C string: itself, or when it holds a NUL, `copy` with each NUL as U+FFFD.
const char* CString(const std::string& text, std::string& copy) {
  if (text.find('\0') == std::string::npos) return text.c_str();
  copy.clear();
  for (char c : text) {
    if (c == '\0') {
      copy += "\xEF\xBF\xBD";
    } else {
      copy += c;
    }
  }
  return copy.c_str();
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
  v.stream = CString(event.stream_identifier().stream_name(), out->stream);
  v.revision = event.stream_revision();
  v.position = esdb_position{event.commit_position(), event.prepare_position()};
  v.event_id = out->id;
  v.event_type = CString(Metadata(event.metadata(), "type"), out->event_type);
  v.content_type = CString(Metadata(event.metadata(), "content-type"), out->content_type);
  v.data = reinterpret_cast<const uint8_t*>(event.data().data());
  v.data_size = event.data().size();
  v.metadata = reinterpret_cast<const uint8_t*>(event.custom_metadata().data());
  v.metadata_size = event.custom_metadata().size();
  v.created_unix_us = ticks / protocol::kTicksPerMicrosecond;
}

}  // namespace esdb::sidecar
