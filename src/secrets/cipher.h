// AES-256-GCM (OpenSSL) for secrets at rest: a random 96-bit nonce per message, a 128-bit tag,
// and associated data that binds a ciphertext to where it belongs (a connector and a key name).
#ifndef ESDB_SECRETS_CIPHER_H_
#define ESDB_SECRETS_CIPHER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace esdb::secrets {

inline constexpr size_t kKeyBytes = 32;

// kKeyBytes from the operating system's random source.
std::string RandomKey();

// nonce | ciphertext | tag. InvalidArgument for a key that is not kKeyBytes long.
absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view plaintext,
                                 absl::string_view associated_data);

// The plaintext; DataLoss when the message was altered, is cut short, or was sealed under another
// key or other associated data.
absl::StatusOr<std::string> Open(absl::string_view key, absl::string_view sealed,
                                 absl::string_view associated_data);

}  // namespace esdb::secrets

#endif  // ESDB_SECRETS_CIPHER_H_
