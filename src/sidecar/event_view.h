// A recorded event of the client protocol seen as the node ABI's esdb_recorded_event.
#ifndef ESDB_SIDECAR_EVENT_VIEW_H_
#define ESDB_SIDECAR_EVENT_VIEW_H_

#include <string>

#include "esdb/node.h"
#include "streams.pb.h"

namespace esdb::sidecar {

// Borrows the message's strings: the message must stay alive and unchanged while `view` is used,
// and an EventView must not be copied or moved once filled (view.event_id points into `id`, and
// the names may point into the copies below).
struct EventView {
  char id[40] = {};
  esdb_recorded_event view{};
  // A stream name, type or content type holding a NUL (a KurrentDB node accepts such names) is
  // given as a copy with each NUL written as U+FFFD: as a C string it would end at the NUL, and
  // "orders\0x" would reach the library as the stream "orders".
  std::string stream, event_type, content_type;
};

// Fills `out` from `event`: the system metadata gives type, content type and creation time
// ("created" in .NET ticks since the Unix epoch); a malformed id or time reads as "" or 0.
void FillEventView(const event_store::client::streams::ReadResp::ReadEvent::RecordedEvent& event,
                   EventView* out);

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_EVENT_VIEW_H_
