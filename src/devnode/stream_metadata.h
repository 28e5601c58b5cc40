// Stream metadata: a JSON object per stream; the node honours "$maxCount" on stream reads.
#ifndef ESDB_DEVNODE_STREAM_METADATA_H_
#define ESDB_DEVNODE_STREAM_METADATA_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb::devnode {

inline constexpr char kEmptyStreamMetadata[] = "{}";

struct StreamMetadata {
  std::string json = kEmptyStreamMetadata;  // compact serialisation of the object
  std::optional<uint64_t> max_count;        // "$maxCount": only the newest N events are readable
};

// Parses metadata set by a client. InvalidArgument unless `json` is a JSON object whose
// "$maxCount", when present, is an integer >= 1. Other keys are kept but not interpreted.
absl::StatusOr<StreamMetadata> ParseStreamMetadata(absl::string_view json);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_STREAM_METADATA_H_
