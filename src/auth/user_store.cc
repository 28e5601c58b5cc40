#include "auth/user_store.h"

#include <fstream>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/text.h"

namespace esdb::auth {
namespace {

using nlohmann::json;

// A users file is a short list; anything this big is a mistake (or an attack on start-up).
constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxNameSize = 128;
constexpr size_t kMaxDepth = 4;  // {"users": [{"groups": [...]}]}

const std::string kUnauthenticated = "unknown user or wrong password";

absl::Status Invalid(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

absl::Status CheckName(absl::string_view where, absl::string_view kind, const std::string& name,
                       bool colon_allowed) {
  if (name.empty() || name.size() > kMaxNameSize) {
    return Invalid(where, absl::StrCat("a ", kind, " must have 1 to ", kMaxNameSize,
                                       " characters: '", Excerpt(name), "'"));
  }
  if (FindControl(name) != absl::string_view::npos) {
    return Invalid(where, absl::StrCat(kind, " '", Excerpt(name), "' has control characters"));
  }
  if (!colon_allowed && name.find(':') != std::string::npos) {
    return Invalid(where,
                   absl::StrCat(kind, " '", Excerpt(name),
                                "' contains ':', which HTTP Basic credentials cannot carry"));
  }
  return absl::OkStatus();
}

absl::StatusOr<User> ParseUser(absl::string_view where, const json& entry, size_t index) {
  const std::string at = absl::StrCat(where, ": users[", index, "]");
  if (!entry.is_object()) return absl::InvalidArgumentError(absl::StrCat(at, " is not an object"));
  std::string name, full_name;
  std::vector<std::string> groups;
  bool disabled = false;
  std::optional<PasswordHash> password;
  for (const auto& [key, value] : entry.items()) {
    if (key == "name") {
      if (!value.is_string()) return Invalid(at, "name must be a string");
      name = value.get<std::string>();
    } else if (key == "passwordHash") {
      if (!value.is_string()) return Invalid(at, "passwordHash must be a string");
      absl::StatusOr<PasswordHash> hash = PasswordHash::Parse(value.get<std::string>());
      if (!hash.ok()) return Invalid(at, hash.status().message());
      password = *std::move(hash);
    } else if (key == "groups") {
      if (!value.is_array()) return Invalid(at, "groups must be an array of strings");
      for (const json& group : value) {
        if (!group.is_string()) return Invalid(at, "groups must be an array of strings");
        groups.push_back(group.get<std::string>());
        if (absl::Status s = CheckName(at, "group", groups.back(), true); !s.ok()) return s;
      }
    } else if (key == "fullName") {
      if (!value.is_string()) return Invalid(at, "fullName must be a string");
      full_name = value.get<std::string>();
      if (FindControl(full_name) != absl::string_view::npos) {
        return Invalid(at, "fullName has control characters");
      }
    } else if (key == "disabled") {
      if (!value.is_boolean()) return Invalid(at, "disabled must be true or false");
      disabled = value.get<bool>();
    } else {
      return Invalid(at, absl::StrCat("unknown key '", Excerpt(key),
                                      "' (known: name, passwordHash, groups, fullName, disabled)"));
    }
  }
  if (!entry.contains("name")) return Invalid(at, "name is missing");
  if (absl::Status s = CheckName(at, "user name", name, false); !s.ok()) return s;
  if (!password.has_value()) {
    return Invalid(at, absl::StrCat("user '", Excerpt(name), "' has no passwordHash"));
  }
  return User{std::move(name), std::move(full_name), std::move(groups), disabled,
              *std::move(password)};
}

absl::StatusOr<PasswordHash> Decoy() { return PasswordHash::Create("decoy", kDefaultIterations); }

}  // namespace

UserStore::UserStore(std::vector<User> users, PasswordHash decoy, CredentialCache::Options cache)
    : users_(std::move(users)),
      decoy_(std::move(decoy)),
      loaded_at_(absl::Now()),
      cache_(cache),
      refused_(std::move(cache)) {}

absl::StatusOr<std::unique_ptr<UserStore>> UserStore::Defaults(CredentialCache::Options cache) {
  std::vector<User> users;
  for (const auto& [name, group, full_name] :
       {std::tuple{"admin", "$admins", "KurrentDB Administrator"},
        std::tuple{"ops", "$ops", "KurrentDB Operations"}}) {
    absl::StatusOr<PasswordHash> hash = PasswordHash::Create(kDefaultPassword);
    if (!hash.ok()) return hash.status();
    users.push_back(User{name, full_name, {group}, false, *std::move(hash)});
  }
  absl::StatusOr<PasswordHash> decoy = Decoy();
  if (!decoy.ok()) return decoy.status();
  return std::unique_ptr<UserStore>(
      new UserStore(std::move(users), *std::move(decoy), std::move(cache)));
}

absl::StatusOr<std::unique_ptr<UserStore>> UserStore::FromFile(const std::string& path,
                                                               CredentialCache::Options cache) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat("cannot open the users file '", path, "'"));
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad())
    return absl::InvalidArgumentError(absl::StrCat("cannot read the users file '", path, "'"));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the users file '", path, "' is larger than ", kMaxFileBytes, " bytes"));
  }
  return FromJson(text, absl::StrCat("users file '", path, "'"), std::move(cache));
}

absl::StatusOr<std::unique_ptr<UserStore>> UserStore::FromJson(absl::string_view text,
                                                               absl::string_view where,
                                                               CredentialCache::Options cache) {
  absl::StatusOr<json> parsed = ParseJson(text, kMaxDepth, where);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object() || parsed->size() != 1 || !parsed->contains("users") ||
      !(*parsed)["users"].is_array()) {
    return Invalid(where, "expected {\"users\": [...]} and nothing else");
  }
  const json& list = (*parsed)["users"];
  if (list.empty()) return Invalid(where, "lists no users: nobody could log in");
  std::vector<User> users;
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StatusOr<User> user = ParseUser(where, list[i], i);
    if (!user.ok()) return user.status();
    if (!names.insert(user->name).second) {
      return Invalid(where, absl::StrCat("user '", Excerpt(user->name), "' is listed twice"));
    }
    users.push_back(*std::move(user));
  }
  absl::StatusOr<PasswordHash> decoy = Decoy();
  if (!decoy.ok()) return decoy.status();
  return std::unique_ptr<UserStore>(
      new UserStore(std::move(users), *std::move(decoy), std::move(cache)));
}

absl::StatusOr<http::Principal> UserStore::Authenticate(const BasicCredentials& credentials) {
  // The answer a recent check gave these credentials, if any.
  auto remembered = [&]() -> std::optional<absl::StatusOr<http::Principal>> {
    if (std::optional<http::Principal> cached = cache_.Find(credentials)) return *cached;
    if (refused_.Find(credentials)) return absl::UnauthenticatedError(kUnauthenticated);
    return std::nullopt;
  };
  if (auto answer = remembered()) return *std::move(answer);
  {
    absl::MutexLock lock(&checks_mu_);
    auto turn = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(checks_mu_) {
      return checks_running_ < limits_.concurrent;
    };
    if (!checks_mu_.AwaitWithTimeout(absl::Condition(&turn), limits_.wait)) {
      return absl::UnavailableError("too many password checks at once; try again shortly");
    }
    ++checks_running_;
    ++checks_made_;
  }
  absl::Cleanup done = [this] {
    absl::MutexLock lock(&checks_mu_);
    --checks_running_;
  };
  // The same credentials may have been checked while this request waited for its turn.
  if (auto answer = remembered()) return *std::move(answer);
  if (limits_.during_check) limits_.during_check();
  const User* user = Find(credentials.user);
  // The check runs whatever happens, so the time taken does not say whether the user exists.
  const bool matches =
      user != nullptr ? user->password.Matches(credentials.password) : decoy_.Matches("");
  if (user == nullptr || !matches || user->disabled) {
    refused_.Remember(credentials, http::Principal{});
    return absl::UnauthenticatedError(kUnauthenticated);
  }
  http::Principal principal{http::Principal::Kind::kUser, user->name, user->groups};
  cache_.Remember(credentials, principal);
  return principal;
}

int64_t UserStore::password_checks() const {
  absl::MutexLock lock(&checks_mu_);
  return checks_made_;
}

const User* UserStore::Find(absl::string_view name) const {
  for (const User& user : users_) {
    if (user.name == name) return &user;
  }
  return nullptr;
}

}  // namespace esdb::auth
