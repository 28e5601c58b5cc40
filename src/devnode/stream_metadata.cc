#include "devnode/stream_metadata.h"

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "nlohmann/json.hpp"

namespace esdb::devnode {

absl::StatusOr<StreamMetadata> ParseStreamMetadata(absl::string_view json) {
  auto parsed = ParseJson(json, kMaxEventJsonDepth, "stream metadata");
  if (!parsed.ok()) return parsed.status();
  nlohmann::json& doc = *parsed;
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("stream metadata must be a JSON object");
  }
  StreamMetadata out;
  if (auto it = doc.find("$maxCount"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream metadata $maxCount must be an integer >= 1, got ", DumpJson(*it).substr(0, 40)));
    }
    out.max_count = it->get<uint64_t>();
  }
  if (auto it = doc.find("$tb"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream metadata $tb must be an integer >= 0, got ", DumpJson(*it).substr(0, 40)));
    }
    out.truncate_before = it->get<uint64_t>();
  }
  out.json = DumpJson(doc);
  return out;
}

StreamMetadata WithTruncateBefore(const StreamMetadata& metadata, uint64_t truncate_before) {
  // metadata.json came out of ParseStreamMetadata (or is "{}"), so it parses as an object.
  nlohmann::json doc = ParseJson(metadata.json, kMaxEventJsonDepth, "").value_or(nullptr);
  if (!doc.is_object()) doc = nlohmann::json::object();
  doc["$tb"] = truncate_before;
  StreamMetadata out = metadata;
  out.truncate_before = truncate_before;
  out.json = DumpJson(doc);
  return out;
}

}  // namespace esdb::devnode
