// Stream metadata: a JSON object per stream; the node honours "$maxCount" and "$tb" (truncate
// before: revisions below it are gone; a soft delete sets it past the last event) on stream reads.
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
  std::optional<uint64_t> truncate_before;  // "$tb": events below this revision are unreadable
};

// Parses metadata set by a client. InvalidArgument unless `json` is a JSON object whose
// "$maxCount", when present, is an integer >= 1 and whose "$tb", when present, is an integer
// >= 0. Other keys are kept but not interpreted.
absl::StatusOr<StreamMetadata> ParseStreamMetadata(absl::string_view json);

// `metadata` with "$tb" set to `truncate_before`, other keys kept (a soft delete).
StreamMetadata WithTruncateBefore(const StreamMetadata& metadata, uint64_t truncate_before);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_STREAM_METADATA_H_
