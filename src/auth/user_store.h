// The dev node's users: who may log in, with which password, in which groups. Either KurrentDB's
// two default users (admin/changeit in $admins, ops/changeit in $ops) or the users of a JSON file
// (--users-file), which replaces them:
//
//   {"users": [
//     {"name": "admin", "passwordHash": "pbkdf2-sha256$600000$...$...", "groups": ["$admins"]},
//     {"name": "reader", "passwordHash": "...", "fullName": "Dashboards", "disabled": false}]}
//
// name: 1..128 characters, no ':' (HTTP Basic cannot carry it) and no control characters, unique.
// passwordHash: password_hash.h's encoded form. groups (default none), fullName and disabled
// (default false) are optional; any other key is refused, so a typo never goes unnoticed.
//
// Thread-safe; the users never change after loading.
#ifndef ESDB_AUTH_USER_STORE_H_
#define ESDB_AUTH_USER_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/basic_credentials.h"
#include "auth/credential_cache.h"
#include "auth/password_hash.h"
#include "http/message.h"

namespace esdb::auth {

struct User {
  std::string name;
  std::string full_name;
  std::vector<std::string> groups;
  bool disabled = false;
  PasswordHash password;
};

// KurrentDB's default password of its default users.
inline constexpr char kDefaultPassword[] = "changeit";

class UserStore {
 public:
  // admin/changeit in $admins and ops/changeit in $ops. Hashes them at start-up (a few tenths of a
  // second).
  static absl::StatusOr<std::unique_ptr<UserStore>> Defaults(
      CredentialCache::Options cache = CredentialCache::Options());
  // The users of `path`. InvalidArgument naming the file and what is wrong in it.
  static absl::StatusOr<std::unique_ptr<UserStore>> FromFile(
      const std::string& path, CredentialCache::Options cache = CredentialCache::Options());
  // The same from the file's text; `where` names it in messages.
  static absl::StatusOr<std::unique_ptr<UserStore>> FromJson(
      absl::string_view text, absl::string_view where,
      CredentialCache::Options cache = CredentialCache::Options());

  // The user these credentials belong to (kind kUser, name, groups as roles). Unauthenticated,
  // with one message whatever the reason (unknown user, wrong password, disabled), so that the
  // answer does not tell which user names exist; an unknown name costs as much time as a wrong
  // password. Credentials found good, and those found bad, are remembered for a while
  // (credential_cache.h), so a client that repeats them costs no password check.
  //
  // A password check is a slow KDF on purpose (a tenth of a second of a core), so whoever can
  // reach the ports could keep every core busy by sending new passwords. Only
  // `CheckLimits::concurrent` checks run at once; a request that waited `wait` for its turn is
  // Unavailable ("too many password checks"), which the servers answer with 503 / UNAVAILABLE.
  absl::StatusOr<http::Principal> Authenticate(const BasicCredentials& credentials);

  struct CheckLimits {
    int concurrent = 1;
    absl::Duration wait = absl::Seconds(2);
    // Runs inside each password check, while it holds its turn (tests).
    std::function<void()> during_check;
  };
  // Before the first Authenticate().
  void set_check_limits(CheckLimits limits) { limits_ = std::move(limits); }
  // Password checks made so far (the ones no cache answered).
  int64_t password_checks() const;

  // nullptr when there is no such user.
  const User* Find(absl::string_view name) const;
  const std::vector<User>& users() const { return users_; }
  // When the users were loaded (what Users.Details reports as their last update).
  absl::Time loaded_at() const { return loaded_at_; }

 private:
  UserStore(std::vector<User> users, PasswordHash decoy, CredentialCache::Options cache);

  const std::vector<User> users_;
  // Checked against when the user is unknown, so that takes as long as a wrong password.
  const PasswordHash decoy_;
  const absl::Time loaded_at_;
  CredentialCache cache_;     // good credentials
  CredentialCache refused_;   // bad ones (the principal stored is not used)
  CheckLimits limits_;
  mutable absl::Mutex checks_mu_;
  int checks_running_ ABSL_GUARDED_BY(checks_mu_) = 0;
  int64_t checks_made_ ABSL_GUARDED_BY(checks_mu_) = 0;
};

}  // namespace esdb::auth

#endif  // ESDB_AUTH_USER_STORE_H_
