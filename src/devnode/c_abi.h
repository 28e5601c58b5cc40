// Conversions between the log node's C++ types and the structs of the node ABI (esdb/node.h).
#ifndef ESDB_DEVNODE_C_ABI_H_
#define ESDB_DEVNODE_C_ABI_H_

#include <type_traits>

#include "core/abi_support.h"
#include "devnode/log_store.h"
#include "esdb/node.h"

namespace esdb::devnode {

inline esdb_position ToCPosition(uint64_t position) { return esdb_position{position, position}; }

// A view of `event` for a callback; valid while `event` is.
inline esdb_recorded_event ToCEvent(const RecordedEvent& event) {
  esdb_recorded_event out{};
  out.struct_size = sizeof(out);
  out.stream = event.stream.c_str();
  out.revision = event.revision;
  out.position = ToCPosition(event.position);
  out.event_id = event.event_id.c_str();
  out.event_type = event.event_type.c_str();
  out.content_type = event.content_type.c_str();
  out.data = reinterpret_cast<const uint8_t*>(event.data.data());
  out.data_size = event.data.size();
  out.metadata = reinterpret_cast<const uint8_t*>(event.metadata.data());
  out.metadata_size = event.metadata.size();
  out.created_unix_us = event.created_unix_us;
  return out;
}

// An owned copy of an ABI event, the inverse of ToCEvent.
inline RecordedEvent FromCEvent(const esdb_recorded_event& e) {
  RecordedEvent event;
  event.position = e.position.commit;
  event.stream = e.stream;
  event.revision = e.revision;
  event.event_id = e.event_id;
  event.event_type = e.event_type;
  event.content_type = e.content_type;
  event.data.assign(reinterpret_cast<const char*>(e.data), e.data_size);
  event.metadata.assign(reinterpret_cast<const char*>(e.metadata), e.metadata_size);
  event.created_unix_us = e.created_unix_us;
  return event;
}

// A caller's struct, read at this host's size, and whether a caller's struct has a field: the
// one rule of esdb/abi.h, as core/abi_support.h and ESDB_HAS_FIELD implement it for everyone.
using ::esdb::CopyAbiStruct;
#define ESDB_DEVNODE_HAS_FIELD(ptr, field) \
  ESDB_HAS_FIELD(std::remove_reference_t<decltype(*(ptr))>, ptr, field)

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_C_ABI_H_
