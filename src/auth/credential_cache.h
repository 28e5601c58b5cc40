// Remembers, briefly, which credentials were found good and who they stand for, so that a busy
// client does not pay for a password check (a slow KDF, or a call to the node) on every request.
//
// What it holds is the caller's choice: the side-car keeps credentials the node accepted; the
// dev node's user store keeps those it accepted in one and those it refused in another (its users
// never change while it runs). Entries are keyed by HMAC-SHA256 of user and password under a random
// key made when the cache is created: the cache never holds a password, and its keys are useless
// outside this process. An entry lives `ttl` (a changed or removed user keeps working at most
// that long); at most `max_entries` are kept, the ones closest to expiry making room first.
//
// Thread-safe.
#ifndef ESDB_AUTH_CREDENTIAL_CACHE_H_
#define ESDB_AUTH_CREDENTIAL_CACHE_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/basic_credentials.h"
#include "http/message.h"

namespace esdb::auth {

class CredentialCache {
 public:
  struct Options {
    absl::Duration ttl = absl::Seconds(10);
    size_t max_entries = 1024;
    std::function<absl::Time()> now = [] { return absl::Now(); };  // tests drive time
  };

  explicit CredentialCache(Options options);
  CredentialCache() : CredentialCache(Options()) {}

  // Who these credentials stood for when they were last found good, unless that is over `ttl`
  // ago.
  std::optional<http::Principal> Find(const BasicCredentials& credentials);
  // Records credentials just found good.
  void Remember(const BasicCredentials& credentials, const http::Principal& principal);

  size_t size() const;

 private:
  struct Entry {
    http::Principal principal;
    absl::Time expires;
  };

  std::string Key(const BasicCredentials& credentials) const;

  const Options options_;
  std::string hmac_key_;  // set once by the constructor

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb::auth

#endif  // ESDB_AUTH_CREDENTIAL_CACHE_H_
