// An event as the library handles it: owned, copied out of a node callback.
#ifndef ESDB_CORE_RECORD_H_
#define ESDB_CORE_RECORD_H_

#include <cstdint>
#include <string>

#include "core/position.h"

namespace esdb {

struct Record {
  std::string stream;
  uint64_t revision = 0;
  Position position;
  std::string event_id;  // canonical UUID text
  std::string event_type;
  std::string content_type;
  std::string data;
  std::string metadata;
  int64_t created_unix_us = 0;

  // Approximate size in bytes, for batching:maxBytes.
  size_t ByteSize() const {
    return stream.size() + event_id.size() + event_type.size() + content_type.size() +
           data.size() + metadata.size() + 64;
  }
};

// An event to append.
struct EventData {
  std::string event_id;  // empty: the node makes one
  std::string event_type;
  std::string content_type = "application/json";
  std::string data;
  std::string metadata;
};

}  // namespace esdb

#endif  // ESDB_CORE_RECORD_H_
