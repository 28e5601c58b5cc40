#include "protocol/uuid.h"

#include <cstdint>
#include <optional>

#include "core/uuid.h"

namespace esdb::protocol {

absl::StatusOr<std::string> UuidToText(const event_store::client::UUID& uuid) {
  switch (uuid.value_case()) {
    case event_store::client::UUID::kString:
      return CanonicalUuid(uuid.string());
    case event_store::client::UUID::kStructured:
      return UuidText({static_cast<uint64_t>(uuid.structured().most_significant_bits()),
                       static_cast<uint64_t>(uuid.structured().least_significant_bits())});
    default:
      return absl::InvalidArgumentError("UUID has neither a structured nor a string value");
  }
}

absl::StatusOr<event_store::client::UUID> UuidFromText(absl::string_view text, UuidForm form) {
  std::optional<UuidBits> bits = ParseUuid(text);
  if (!bits.has_value()) return CanonicalUuid(text).status();  // the error, worded once
  event_store::client::UUID out;
  if (form == UuidForm::kString) {
    out.set_string(UuidText(*bits));
  } else {
    out.mutable_structured()->set_most_significant_bits(static_cast<int64_t>(bits->high));
    out.mutable_structured()->set_least_significant_bits(static_cast<int64_t>(bits->low));
  }
  return out;
}

}  // namespace esdb::protocol
