#include "protocol/uuid.h"

#include <array>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace esdb::protocol {
namespace {

constexpr std::array<size_t, 4> kDashes = {8, 13, 18, 23};
constexpr size_t kTextSize = 36;

bool IsDash(size_t i) {
  for (size_t d : kDashes) {
    if (d == i) return true;
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status NotAUuid(absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", absl::CEscape(text), "' is not a UUID (8-4-4-4-12 hex digits)"));
}

// The 32 hex digits of a canonical UUID as two halves, or InvalidArgument.
absl::Status ParseHalves(absl::string_view text, uint64_t* msb, uint64_t* lsb) {
  if (text.size() != kTextSize) return NotAUuid(text);
  uint64_t halves[2] = {0, 0};
  size_t digit = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsDash(i)) {
      if (text[i] != '-') return NotAUuid(text);
      continue;
    }
    int v = HexValue(text[i]);
    if (v < 0) return NotAUuid(text);
    uint64_t& half = halves[digit / 16];
    half = (half << 4) | static_cast<uint64_t>(v);
    ++digit;
  }
  *msb = halves[0];
  *lsb = halves[1];
  return absl::OkStatus();
}

void AppendHex(uint64_t value, int digits, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    out->push_back(kHex[(value >> shift) & 0xf]);
  }
}

std::string TextFromHalves(uint64_t msb, uint64_t lsb) {
  std::string out;
  out.reserve(kTextSize);
  AppendHex(msb >> 32, 8, &out);
  out.push_back('-');
  AppendHex((msb >> 16) & 0xffff, 4, &out);
  out.push_back('-');
  AppendHex(msb & 0xffff, 4, &out);
  out.push_back('-');
  AppendHex(lsb >> 48, 4, &out);
  out.push_back('-');
  AppendHex(lsb & 0xffffffffffffULL, 12, &out);
  return out;
}

}  // namespace

absl::StatusOr<std::string> UuidToText(const event_store::client::UUID& uuid) {
  switch (uuid.value_case()) {
    case event_store::client::UUID::kString: {
      uint64_t msb = 0, lsb = 0;
      if (absl::Status st = ParseHalves(uuid.string(), &msb, &lsb); !st.ok()) return st;
      return absl::AsciiStrToLower(uuid.string());
    }
    case event_store::client::UUID::kStructured:
      return TextFromHalves(static_cast<uint64_t>(uuid.structured().most_significant_bits()),
                            static_cast<uint64_t>(uuid.structured().least_significant_bits()));
    default:
      return absl::InvalidArgumentError("UUID has neither a structured nor a string value");
  }
}

absl::StatusOr<event_store::client::UUID> UuidFromText(absl::string_view text, UuidForm form) {
  uint64_t msb = 0, lsb = 0;
  if (absl::Status st = ParseHalves(text, &msb, &lsb); !st.ok()) return st;
  event_store::client::UUID out;
  if (form == UuidForm::kString) {
    out.set_string(absl::AsciiStrToLower(text));
  } else {
    out.mutable_structured()->set_most_significant_bits(static_cast<int64_t>(msb));
    out.mutable_structured()->set_least_significant_bits(static_cast<int64_t>(lsb));
  }
  return out;
}

}  // namespace esdb::protocol
