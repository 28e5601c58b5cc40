#include "core/uuid.h"

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace esdb {
namespace {

constexpr size_t kTextSize = 36;

bool IsDashIndex(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Every event id passes through here on every read and write: tables, not chains of tests.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? static_cast<int8_t>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<int8_t>(c - 'a' + 10)
           : c >= 'A' && c <= 'F' ? static_cast<int8_t>(c - 'A' + 10)
                                  : int8_t{-1};
  }
  return t;
}();

// Writes `digits` hex digits of `value` at `out`.
void PutHex(uint64_t value, int digits, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i, value >>= 4) out[i] = kHex[value & 0xf];
}

}  // namespace

std::optional<UuidBits> ParseUuid(absl::string_view text) {
  if (text.size() != kTextSize) return std::nullopt;
  uint64_t halves[2] = {0, 0};
  size_t digit = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsDashIndex(i)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const int v = kHexValue[static_cast<unsigned char>(text[i])];
    if (v < 0) return std::nullopt;
    uint64_t& half = halves[digit / 16];
    half = (half << 4) | static_cast<uint64_t>(v);
    ++digit;
  }
  return UuidBits{halves[0], halves[1]};
}

std::string UuidText(UuidBits bits) {
  std::string out(kTextSize, '-');
  PutHex(bits.high >> 32, 8, &out[0]);
  PutHex((bits.high >> 16) & 0xffff, 4, &out[9]);
  PutHex(bits.high & 0xffff, 4, &out[14]);
  PutHex(bits.low >> 48, 4, &out[19]);
  PutHex(bits.low & 0xffffffffffffULL, 12, &out[24]);
  return out;
}

absl::StatusOr<std::string> CanonicalUuid(absl::string_view text) {
  std::optional<UuidBits> bits = ParseUuid(text);
  if (!bits.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::CEscape(text), "' is not a UUID (8-4-4-4-12 hex digits)"));
  }
  return UuidText(*bits);
}

std::string NewUuid() {
  // absl::BitGen is seeded from the OS entropy source and is not thread-safe; one per thread.
  thread_local absl::BitGen gen;
  UuidBits bits{absl::Uniform<uint64_t>(gen), absl::Uniform<uint64_t>(gen)};
  bits.high = (bits.high & ~uint64_t{0xf000}) | 0x4000;                    // version 4
  bits.low = (bits.low & ~(uint64_t{0x3} << 62)) | (uint64_t{0x2} << 62);  // RFC 4122 variant
  return UuidText(bits);
}

}  // namespace esdb
