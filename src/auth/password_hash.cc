#include "auth/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace esdb::auth {
namespace {

constexpr char kScheme[] = "pbkdf2-sha256";
constexpr size_t kSaltSize = 16;
constexpr size_t kKeySize = 32;

std::string Derive(absl::string_view password, const std::string& salt, uint32_t iterations) {
  std::string key(kKeySize, '\0');
  // Fails only on allocation failure; a zero key then never matches a stored one.
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(key.size()),
                        reinterpret_cast<unsigned char*>(key.data())) != 1) {
    return std::string(kKeySize, '\0');
  }
  return key;
}

absl::Status CheckIterations(uint64_t iterations) {
  if (iterations < kMinIterations || iterations > kMaxIterations) {
    return absl::InvalidArgumentError(absl::StrCat("password hash: ", iterations,
                                                   " iterations is outside ", kMinIterations, "..",
                                                   kMaxIterations));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PasswordHash> PasswordHash::Parse(absl::string_view encoded) {
  std::vector<absl::string_view> parts = absl::StrSplit(encoded, '$');
  if (parts.size() != 4 || parts[0] != kScheme) {
    return absl::InvalidArgumentError(absl::StrCat(
        "password hash: expected ", kScheme, "$<iterations>$<salt>$<key> (see --hash-password)"));
  }
  uint64_t iterations = 0;
  if (!absl::SimpleAtoi(parts[1], &iterations)) {
    return absl::InvalidArgumentError("password hash: the iteration count is not a number");
  }
  if (absl::Status s = CheckIterations(iterations); !s.ok()) return s;
  std::string salt, key;
  if (!absl::Base64Unescape(parts[2], &salt) || salt.size() < kSaltSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("password hash: the salt must be base64 of at least ", kSaltSize, " bytes"));
  }
  if (!absl::Base64Unescape(parts[3], &key) || key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("password hash: the key must be base64 of ", kKeySize, " bytes"));
  }
  return PasswordHash(static_cast<uint32_t>(iterations), std::move(salt), std::move(key));
}

absl::StatusOr<PasswordHash> PasswordHash::Create(absl::string_view password, uint32_t iterations) {
  if (password.empty()) return absl::InvalidArgumentError("the password is empty");
  if (absl::Status s = CheckIterations(iterations); !s.ok()) return s;
  std::string salt(kSaltSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
      1) {
    return absl::InternalError("no random bytes for a salt (OpenSSL RAND_bytes failed)");
  }
  std::string key = Derive(password, salt, iterations);
  return PasswordHash(iterations, std::move(salt), std::move(key));
}

bool PasswordHash::Matches(absl::string_view password) const {
  const std::string derived = Derive(password, salt_, iterations_);
  return CRYPTO_memcmp(derived.data(), key_.data(), kKeySize) == 0;
}

std::string PasswordHash::Encode() const {
  return absl::StrCat(kScheme, "$", iterations_, "$", absl::Base64Escape(salt_), "$",
                      absl::Base64Escape(key_));
}

}  // namespace esdb::auth
