// The side-car (src/sidecar): a recorded event as a node sends it (ReadResp.ReadEvent's
// RecordedEvent, which a KurrentDB node fills from whatever was appended) turned into the node
// ABI's C view the library reads.
//
// Input: the serialized RecordedEvent.
//
// Properties:
//  - FillEventView never crashes, whatever the fields hold;
//  - every name is a whole C string: its length is the field's (a NUL inside counted as the
//    three bytes of U+FFFD), so no name ends early and passes for another;
//  - the event id is "" or canonical UUID text (36 characters, lower-case hex, dashes at 8, 13,
//    18 and 23);
//  - data and metadata are the message's own bytes, positions and revision its numbers.
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz/fuzz_check.h"
#include "sidecar/event_view.h"
#include "streams.pb.h"

namespace {

using RecordedEvent = event_store::client::streams::ReadResp::ReadEvent::RecordedEvent;

size_t WholeLength(const std::string& field) {
  size_t nuls = 0;
  for (char c : field) nuls += c == '\0';
  return field.size() + 2 * nuls;
}

const std::string& Metadata(const RecordedEvent& e, const char* key) {
  static const std::string kNone;
  auto it = e.metadata().find(key);
  return it == e.metadata().end() ? kNone : it->second;
}

bool IsCanonicalUuid(const char* id) {
  if (std::strlen(id) != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    char c = id[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RecordedEvent event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  esdb::sidecar::EventView view;
  esdb::sidecar::FillEventView(event, &view);
  const esdb_recorded_event& v = view.view;
  FUZZ_CHECK(std::strlen(v.stream) == WholeLength(event.stream_identifier().stream_name()));
  FUZZ_CHECK(std::strlen(v.event_type) == WholeLength(Metadata(event, "type")));
  FUZZ_CHECK(std::strlen(v.content_type) == WholeLength(Metadata(event, "content-type")));
  FUZZ_CHECK(v.event_id[0] == '\0' || IsCanonicalUuid(v.event_id), "%s", v.event_id);
  FUZZ_CHECK(v.data_size == event.data().size() &&
             (v.data_size == 0 || std::memcmp(v.data, event.data().data(), v.data_size) == 0));
  FUZZ_CHECK(v.metadata_size == event.custom_metadata().size() &&
             (v.metadata_size == 0 ||
              std::memcmp(v.metadata, event.custom_metadata().data(), v.metadata_size) == 0));
  FUZZ_CHECK(v.position.commit == event.commit_position() &&
             v.position.prepare == event.prepare_position() &&
             v.revision == event.stream_revision());
  return 0;
}
