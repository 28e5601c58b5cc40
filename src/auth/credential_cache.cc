#include "auth/credential_cache.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>

#include "absl/random/random.h"

namespace esdb::auth {
namespace {

constexpr size_t kHmacKeySize = 32;

}  // namespace

CredentialCache::CredentialCache(Options options)
    : options_(std::move(options)), hmac_key_(kHmacKeySize, '\0') {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(hmac_key_.data()),
                 static_cast<int>(hmac_key_.size())) != 1) {
    // OpenSSL without entropy is not expected on a running system; Abseil's generator is seeded
    // from the OS too, so keys stay unpredictable.
    absl::BitGen gen;
    for (char& c : hmac_key_) c = static_cast<char>(absl::Uniform<uint8_t>(gen));
  }
}

std::string CredentialCache::Key(const BasicCredentials& credentials) const {
  // The user's length first, so that ("ab", "c") and ("a", "bc") never share a key.
  std::string message;
  const uint64_t user_size = credentials.user.size();
  message.append(reinterpret_cast<const char*>(&user_size), sizeof user_size);
  message.append(credentials.user);
  message.append(credentials.password);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (HMAC(EVP_sha256(), hmac_key_.data(), static_cast<int>(hmac_key_.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &digest_size) == nullptr) {
    return std::string();  // never stored or found: see Find and Remember
  }
  OPENSSL_cleanse(message.data(), message.size());
  return std::string(reinterpret_cast<const char*>(digest), digest_size);
}

std::optional<http::Principal> CredentialCache::Find(const BasicCredentials& credentials) {
  const std::string key = Key(credentials);
  if (key.empty()) return std::nullopt;
  const absl::Time now = options_.now();
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

void CredentialCache::Remember(const BasicCredentials& credentials,
                               const http::Principal& principal) {
  if (options_.max_entries == 0 || options_.ttl <= absl::ZeroDuration()) return;
  const std::string key = Key(credentials);
  if (key.empty()) return;
  const absl::Time now = options_.now();
  absl::MutexLock lock(&mu_);
  if (!entries_.contains(key) && entries_.size() >= options_.max_entries) {
    absl::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
    if (entries_.size() >= options_.max_entries) {
      auto soonest = std::min_element(
          entries_.begin(), entries_.end(),
          [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
      entries_.erase(soonest);
    }
  }
  entries_[key] = Entry{principal, now + options_.ttl};
}

size_t CredentialCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace esdb::auth
