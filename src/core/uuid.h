// UUIDs as text: the canonical 8-4-4-4-12 form of hex digits, kept lower case. Event ids in the
// log, on the wire and in the node ABI all use it.
#ifndef ESDB_CORE_UUID_H_
#define ESDB_CORE_UUID_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb {

// The 128 bits of a UUID as two big-endian halves: `high` holds the first 16 hex digits.
struct UuidBits {
  uint64_t high = 0;
  uint64_t low = 0;
};

// The bits of `text`, a UUID in the canonical form (either case); nullopt for anything else
// (braces, URN prefixes, missing or misplaced dashes, other lengths).
std::optional<UuidBits> ParseUuid(absl::string_view text);

// The canonical lower-case text of `bits`.
std::string UuidText(UuidBits bits);

// `text` in canonical lower case, or InvalidArgument quoting it (escaped) when it is not a UUID.
absl::StatusOr<std::string> CanonicalUuid(absl::string_view text);

// A random (version 4, RFC 4122 variant) UUID in canonical lower case. Thread-safe.
std::string NewUuid();

}  // namespace esdb

#endif  // ESDB_CORE_UUID_H_
