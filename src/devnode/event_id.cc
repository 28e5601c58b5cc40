#include "devnode/event_id.h"

#include <array>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace esdb::devnode {
namespace {

constexpr size_t kUuidLength = 36;

bool IsDashIndex(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

absl::StatusOr<std::string> CanonicalEventId(absl::string_view text) {
  bool ok = text.size() == kUuidLength;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    ok =
        IsDashIndex(i) ? text[i] == '-' : absl::ascii_isxdigit(static_cast<unsigned char>(text[i]));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("event id '", text, "' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
  }
  return absl::AsciiStrToLower(text);
}

std::string NewEventId() {
  // absl::BitGen is seeded from the OS entropy source and is not thread-safe; one per thread.
  thread_local absl::BitGen gen;
  std::array<uint8_t, 16> bytes;
  for (uint8_t& b : bytes) b = absl::Uniform<uint8_t>(gen);
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kUuidLength);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace esdb::devnode
