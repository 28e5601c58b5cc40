// Event ids: canonical UUID text (8-4-4-4-12 hex digits), stored lower case. The log node's names
// for what core/uuid.h does.
#ifndef ESDB_DEVNODE_EVENT_ID_H_
#define ESDB_DEVNODE_EVENT_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb::devnode {

// The canonical lower-case form of `text`, or InvalidArgument when it is not a UUID in the
// 8-4-4-4-12 hex form (upper-case digits are accepted; braces and URN prefixes are not).
absl::StatusOr<std::string> CanonicalEventId(absl::string_view text);

// A random (version 4, RFC 4122 variant) UUID in canonical lower-case form. Thread-safe.
std::string NewEventId();

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_EVENT_ID_H_
