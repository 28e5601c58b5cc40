#include "secrets/cipher.h"

#include <memory>

#include "absl/status/status.h"
#include "openssl/evp.h"
#include "openssl/rand.h"

namespace esdb::secrets {
namespace {

constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string RandomKey() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyBytes) != 1) std::abort();
  return key;
}

absl::StatusOr<std::string> Seal(absl::string_view key, absl::string_view plaintext,
                                 absl::string_view associated_data) {
  if (key.size() != kKeyBytes) return absl::InvalidArgumentError("secrets key must be 32 bytes");
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(p, kNonceBytes) != 1) return absl::InternalError("no random bytes for a nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), p) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &n, Bytes(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), p + kNonceBytes, &n, Bytes(plaintext),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), p + kNonceBytes + n, &n) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                p + kNonceBytes + plaintext.size()) == 1;
  if (!ok) return absl::InternalError("AES-256-GCM encryption failed");
  return out;
}

absl::StatusOr<std::string> Open(absl::string_view key, absl::string_view sealed,
                                 absl::string_view associated_data) {
  if (key.size() != kKeyBytes) return absl::InvalidArgumentError("secrets key must be 32 bytes");
  if (sealed.size() < kNonceBytes + kTagBytes) return absl::DataLossError("sealed secret too short");
  const size_t text_size = sealed.size() - kNonceBytes - kTagBytes;
  std::string out(text_size, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  std::string tag(sealed.substr(kNonceBytes + text_size));
  Ctx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(sealed)) ==
                1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &n, Bytes(associated_data),
                              static_cast<int>(associated_data.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), o, &n, Bytes(sealed) + kNonceBytes,
                              static_cast<int>(text_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), o + n, &n) == 1;
  if (!ok) {
    return absl::DataLossError(
        "a sealed secret does not open: altered, or sealed under another key or for another place");
  }
  return out;
}

}  // namespace esdb::secrets
