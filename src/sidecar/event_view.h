// A recorded event of the client protocol seen as the node ABI's esdb_recorded_event.
#ifndef ESDB_SIDECAR_EVENT_VIEW_H_
#define ESDB_SIDECAR_EVENT_VIEW_H_

#include "esdb/node.h"
#include "streams.pb.h"

namespace esdb::sidecar {

// Borrows the message's strings: the message must stay alive and unchanged while `view` is used,
// and an EventView must not be copied or moved once filled (view.event_id points into `id`).
struct EventView {
  char id[40] = {};
  esdb_recorded_event view{};
};

// Fills `out` from `event`: the system metadata gives type, content type and creation time
// ("created" in .NET ticks since the Unix epoch); a malformed id or time reads as "" or 0.
void FillEventView(const event_store::client::streams::ReadResp::ReadEvent::RecordedEvent& event,
                   EventView* out);

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_EVENT_VIEW_H_
