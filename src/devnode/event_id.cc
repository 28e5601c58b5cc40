#include "devnode/event_id.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/uuid.h"

namespace esdb::devnode {

absl::StatusOr<std::string> CanonicalEventId(absl::string_view text) {
  absl::StatusOr<std::string> id = CanonicalUuid(text);
  if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("event id ", id.status().message()));
  return id;
}

std::string NewEventId() { return NewUuid(); }

}  // namespace esdb::devnode
