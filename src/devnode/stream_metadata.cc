#include "devnode/stream_metadata.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace esdb::devnode {

absl::StatusOr<StreamMetadata> ParseStreamMetadata(absl::string_view json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("stream metadata is not JSON: ", e.what()));
  }
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("stream metadata must be a JSON object");
  }
  StreamMetadata out;
  if (auto it = doc.find("$maxCount"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream metadata $maxCount must be an integer >= 1, got ", it->dump()));
    }
    out.max_count = it->get<uint64_t>();
  }
  if (auto it = doc.find("$tb"); it != doc.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream metadata $tb must be an integer >= 0, got ", it->dump()));
    }
    out.truncate_before = it->get<uint64_t>();
  }
  out.json = doc.dump();
  return out;
}

StreamMetadata WithTruncateBefore(const StreamMetadata& metadata, uint64_t truncate_before) {
  // metadata.json came out of ParseStreamMetadata (or is "{}"), so it parses as an object.
  nlohmann::json doc = nlohmann::json::parse(metadata.json, nullptr, false);
  if (!doc.is_object()) doc = nlohmann::json::object();
  doc["$tb"] = truncate_before;
  StreamMetadata out = metadata;
  out.truncate_before = truncate_before;
  out.json = doc.dump();
  return out;
}

}  // namespace esdb::devnode
