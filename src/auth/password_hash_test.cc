#include "auth/password_hash.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(PasswordHashTest, MatchesOnlyTheRightPassword) {
  auto hash = PasswordHash::Create("changeit", kMinIterations);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(hash->Matches("changeit"));
  EXPECT_FALSE(hash->Matches("changeiT"));
  EXPECT_FALSE(hash->Matches(""));
  EXPECT_FALSE(hash->Matches("changeit "));
}

TEST(PasswordHashTest, EncodesAndParsesBack) {
  auto hash = PasswordHash::Create("pw", kMinIterations);
  ASSERT_TRUE(hash.ok());
  const std::string encoded = hash->Encode();
  EXPECT_THAT(encoded, MatchesRegex("pbkdf2-sha256\\$10000\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+"));
  auto parsed = PasswordHash::Parse(encoded);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->Matches("pw"));
  EXPECT_EQ(parsed->iterations(), kMinIterations);
}

TEST(PasswordHashTest, EachHashHasItsOwnSalt) {
  auto a = PasswordHash::Create("same", kMinIterations);
  auto b = PasswordHash::Create("same", kMinIterations);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->Encode(), b->Encode());
}

TEST(PasswordHashTest, DefaultIsTheSlowKdf) {
  auto hash = PasswordHash::Create("pw");
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->iterations(), 600000u);
}

TEST(PasswordHashTest, KnownVector) {
  // PBKDF2-HMAC-SHA256("password", "saltsaltsaltsalt", 10000, 32), computed with
  // `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:password
  //  -kdfopt salt:saltsaltsaltsalt -kdfopt iter:10000 -binary PBKDF2 | base64`.
  auto hash = PasswordHash::Parse(
      "pbkdf2-sha256$10000$c2FsdHNhbHRzYWx0c2FsdA==$/HBtt7Z/7p0CzRvSN1B+KXrKNskvRts1UWw61zKTFUo=");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(hash->Matches("password"));
}

TEST(PasswordHashTest, RefusesMalformedAndOutOfBoundsHashes) {
  const std::string salt = "c2FsdHNhbHRzYWx0c2FsdA==";
  const std::string key = "/HBtt7Z/7p0CzRvSN1B+KXrKNskvRts1UWw61zKTFUo=";
  for (const std::string& bad : {
           std::string("changeit"),
           "sha1$10000$" + salt + "$" + key,
           "pbkdf2-sha256$999$" + salt + "$" + key,
           "pbkdf2-sha256$99999999999$" + salt + "$" + key,
           "pbkdf2-sha256$ten$" + salt + "$" + key,
           "pbkdf2-sha256$10000$c2FsdA==$" + key,
           "pbkdf2-sha256$10000$" + salt + "$a2V5",
           "pbkdf2-sha256$10000$" + salt + "$" + key + "$extra",
       }) {
    EXPECT_FALSE(PasswordHash::Parse(bad).ok()) << bad;
  }
  EXPECT_THAT(PasswordHash::Parse("x").status().message(), HasSubstr("--hash-password"));
  EXPECT_FALSE(PasswordHash::Create("", kMinIterations).ok());
  EXPECT_FALSE(PasswordHash::Create("pw", 5).ok());
}

}  // namespace
}  // namespace esdb::auth
