// Event ids on the wire: event_store.client.UUID is either the canonical text or two signed
// 64-bit halves ("structured"). The log keeps the canonical lower-case text; these convert.
#ifndef ESDB_PROTOCOL_UUID_H_
#define ESDB_PROTOCOL_UUID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "shared.pb.h"

namespace esdb::protocol {

enum class UuidForm { kString, kStructured };

// The canonical lower-case text of `uuid`, whichever form it has. InvalidArgument when neither
// form is set or the text is not 8-4-4-4-12 hex digits.
absl::StatusOr<std::string> UuidToText(const event_store::client::UUID& uuid);

// `text` (a canonical UUID, any case) in the requested form. InvalidArgument for anything else.
absl::StatusOr<event_store::client::UUID> UuidFromText(absl::string_view text, UuidForm form);

}  // namespace esdb::protocol

#endif  // ESDB_PROTOCOL_UUID_H_
