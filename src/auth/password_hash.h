// Salted, deliberately slow password hashes: PBKDF2-HMAC-SHA256 (OpenSSL) with a random 16-byte
// salt per password and an iteration count stored with the hash, so the count can be raised
// later without invalidating existing hashes.
//
// Encoded form (what a users file holds; `esdb-devnode --hash-password` prints it):
//   pbkdf2-sha256$<iterations>$<salt, base64>$<32-byte derived key, base64>
#ifndef ESDB_AUTH_PASSWORD_HASH_H_
#define ESDB_AUTH_PASSWORD_HASH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb::auth {

// OWASP's 2023 figure for PBKDF2-HMAC-SHA256: about 0.1 s of one core per check here, which is
// why successful checks are cached (credential_cache.h).
inline constexpr uint32_t kDefaultIterations = 600000;
// Hashes outside these bounds are refused: too few makes guessing cheap, too many lets a users
// file turn every login into a denial of service.
inline constexpr uint32_t kMinIterations = 10000;
inline constexpr uint32_t kMaxIterations = 10000000;

class PasswordHash {
 public:
  // InvalidArgument, saying which part is wrong, for anything but the encoded form above with an
  // iteration count within bounds, a salt of at least 16 bytes and a 32-byte key.
  static absl::StatusOr<PasswordHash> Parse(absl::string_view encoded);
  // A fresh random salt; InvalidArgument for an empty password or a count out of bounds.
  static absl::StatusOr<PasswordHash> Create(absl::string_view password,
                                             uint32_t iterations = kDefaultIterations);

  // Derives the key for `password` and compares it in constant time. Takes as long as the
  // iteration count says (by design). Thread-safe.
  bool Matches(absl::string_view password) const;

  std::string Encode() const;
  uint32_t iterations() const { return iterations_; }

 private:
  PasswordHash(uint32_t iterations, std::string salt, std::string key)
      : iterations_(iterations), salt_(std::move(salt)), key_(std::move(key)) {}

  uint32_t iterations_;
  std::string salt_;
  std::string key_;
};

}  // namespace esdb::auth

#endif  // ESDB_AUTH_PASSWORD_HASH_H_
