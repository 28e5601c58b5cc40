#include "auth/user_store.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Cheap hashes keep the tests fast; the default count is tested in password_hash_test.cc.
std::string Hash(const std::string& password) {
  return PasswordHash::Create(password, kMinIterations)->Encode();
}

std::string File(const std::string& users) { return absl::StrCat(R"({"users": [)", users, "]}"); }

TEST(UserStoreTest, DefaultsAreKurrentDbs) {
  auto store = UserStore::Defaults();
  ASSERT_TRUE(store.ok()) << store.status();
  auto admin = (*store)->Authenticate({"admin", "changeit"});
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(admin->kind, http::Principal::Kind::kUser);
  EXPECT_EQ(admin->name, "admin");
  EXPECT_THAT(admin->roles, ElementsAre("$admins"));
  auto ops = (*store)->Authenticate({"ops", "changeit"});
  ASSERT_TRUE(ops.ok());
  EXPECT_THAT(ops->roles, ElementsAre("$ops"));
  EXPECT_TRUE(absl::IsUnauthenticated((*store)->Authenticate({"admin", "wrong"}).status()));
}

TEST(UserStoreTest, FileUsersReplaceTheDefaults) {
  auto store = UserStore::FromJson(
      File(absl::StrCat(R"({"name": "reader", "passwordHash": ")", Hash("r-pw"),
                        R"(", "fullName": "Dashboards"},)", R"({"name": "boss", "passwordHash": ")",
                        Hash("b-pw"), R"(", "groups": ["$admins", "team"]})")),
      "test");
  ASSERT_TRUE(store.ok()) << store.status();
  auto reader = (*store)->Authenticate({"reader", "r-pw"});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(reader->roles.empty());
  auto boss = (*store)->Authenticate({"boss", "b-pw"});
  ASSERT_TRUE(boss.ok());
  EXPECT_THAT(boss->roles, ElementsAre("$admins", "team"));
  EXPECT_FALSE((*store)->Authenticate({"admin", "changeit"}).ok());
  ASSERT_NE((*store)->Find("reader"), nullptr);
  EXPECT_EQ((*store)->Find("reader")->full_name, "Dashboards");
  EXPECT_EQ((*store)->Find("nobody"), nullptr);
}

TEST(UserStoreTest, OneAnswerForUnknownUserWrongPasswordAndDisabled) {
  auto store = UserStore::FromJson(
      File(absl::StrCat(R"({"name": "a", "passwordHash": ")", Hash("pw"), R"("},)",
                        R"({"name": "off", "disabled": true, "passwordHash": ")", Hash("pw"),
                        R"("})")),
      "test");
  ASSERT_TRUE(store.ok()) << store.status();
  const absl::Status unknown = (*store)->Authenticate({"nobody", "pw"}).status();
  const absl::Status wrong = (*store)->Authenticate({"a", "nope"}).status();
  const absl::Status disabled = (*store)->Authenticate({"off", "pw"}).status();
  EXPECT_TRUE(absl::IsUnauthenticated(unknown));
  EXPECT_EQ(unknown, wrong);
  EXPECT_EQ(unknown, disabled);
}

TEST(UserStoreTest, RepeatedCredentialsCostOnePasswordCheck) {
  auto store = UserStore::FromJson(
      File(absl::StrCat(R"({"name": "a", "passwordHash": ")", Hash("pw"), R"("})")), "test");
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(absl::IsUnauthenticated((*store)->Authenticate({"a", "nope"}).status()));
    EXPECT_TRUE(absl::IsUnauthenticated((*store)->Authenticate({"nobody", "pw"}).status()));
    EXPECT_TRUE((*store)->Authenticate({"a", "pw"}).ok());
  }
  EXPECT_EQ((*store)->password_checks(), 3);
  // Another wrong password is checked again: a refusal stands for these credentials only.
  EXPECT_FALSE((*store)->Authenticate({"a", "nope2"}).ok());
  EXPECT_EQ((*store)->password_checks(), 4);
}

TEST(UserStoreTest, PasswordChecksTakeTurnsAndALongQueueIsUnavailable) {
  auto store = UserStore::FromJson(
      File(absl::StrCat(R"({"name": "a", "passwordHash": ")", Hash("pw"), R"("})")), "test");
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Notification checking, release;
  (*store)->set_check_limits({.concurrent = 1,
                              .wait = absl::Milliseconds(20),
                              .during_check = [&] {
                                if (checking.HasBeenNotified()) return;
                                checking.Notify();
                                release.WaitForNotification();
                              }});
  std::thread first([&] { EXPECT_TRUE((*store)->Authenticate({"a", "pw"}).ok()); });
  checking.WaitForNotification();
  // The one turn is taken: another password waits its 20 ms and is told to come back.
  absl::Status queued = (*store)->Authenticate({"a", "other"}).status();
  EXPECT_TRUE(absl::IsUnavailable(queued)) << queued;
  EXPECT_THAT(queued.message(), HasSubstr("too many password checks"));
  release.Notify();
  first.join();
  // The turn is free again, and the good credentials are remembered.
  EXPECT_TRUE(absl::IsUnauthenticated((*store)->Authenticate({"a", "other"}).status()));
  EXPECT_TRUE((*store)->Authenticate({"a", "pw"}).ok());
  EXPECT_EQ((*store)->password_checks(), 2);
}

TEST(UserStoreTest, RefusesBadFilesSayingWhy) {
  const std::string h = Hash("pw");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "expected"},
      {R"({"users": []})", "no users"},
      {R"({"users": [], "extra": 1})", "expected"},
      {File(R"({"name": "a"})"), "no passwordHash"},
      {File(R"({"passwordHash": ")" + h + R"("})"), "name is missing"},
      {File(R"({"name": "a:b", "passwordHash": ")" + h + R"("})"), "':'"},
      {File(R"({"name": "", "passwordHash": ")" + h + R"("})"), "1 to 128"},
      {File(R"({"name": "a", "password": "clear"})"), "unknown key 'password'"},
      {File(R"({"name": "a", "passwordHash": "changeit"})"), "pbkdf2-sha256"},
      {File(R"({"name": "a", "passwordHash": ")" + h + R"(", "groups": "$admins"})"), "groups"},
      {File(R"({"name": "a", "passwordHash": ")" + h + R"("}, {"name": "a", "passwordHash": ")" +
            h + R"("})"),
       "listed twice"},
      {"{", "users file"},
  };
  for (const auto& [text, why] : cases) {
    auto store = UserStore::FromJson(text, "users file 'x.json'");
    EXPECT_TRUE(absl::IsInvalidArgument(store.status())) << text;
    EXPECT_THAT(store.status().message(), HasSubstr(why)) << text;
  }
}

TEST(UserStoreTest, MissingFileIsAnError) {
  auto store = UserStore::FromFile("/nonexistent/users.json");
  EXPECT_THAT(store.status().message(), HasSubstr("/nonexistent/users.json"));
}

}  // namespace
}  // namespace esdb::auth
