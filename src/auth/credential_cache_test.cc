#include "auth/credential_cache.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::auth {
namespace {

http::Principal User(const std::string& name) {
  return http::Principal{http::Principal::Kind::kUser, name, {"$ops"}};
}

class CredentialCacheTest : public ::testing::Test {
 protected:
  CredentialCache::Options Options(size_t max_entries = 1024) {
    CredentialCache::Options o;
    o.ttl = absl::Seconds(10);
    o.max_entries = max_entries;
    o.now = [this] { return now_; };
    return o;
  }
  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST_F(CredentialCacheTest, FindsWhatItRememberedUntilItExpires) {
  CredentialCache cache(Options());
  cache.Remember({"ops", "changeit"}, User("ops"));
  auto found = cache.Find({"ops", "changeit"});
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->name, "ops");
  EXPECT_THAT(found->roles, ::testing::ElementsAre("$ops"));
  now_ += absl::Seconds(9);
  EXPECT_TRUE(cache.Find({"ops", "changeit"}).has_value());
  now_ += absl::Seconds(1);
  EXPECT_FALSE(cache.Find({"ops", "changeit"}).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(CredentialCacheTest, AnotherPasswordIsAMiss) {
  CredentialCache cache(Options());
  cache.Remember({"ops", "changeit"}, User("ops"));
  EXPECT_FALSE(cache.Find({"ops", "changeiT"}).has_value());
  EXPECT_FALSE(cache.Find({"ops", ""}).has_value());
  // The split between user and password is part of the key.
  cache.Remember({"ab", "c"}, User("ab"));
  EXPECT_FALSE(cache.Find({"a", "bc"}).has_value());
}

TEST_F(CredentialCacheTest, StaysWithinItsSizeDroppingTheSoonestToExpire) {
  CredentialCache cache(Options(2));
  cache.Remember({"a", "1"}, User("a"));
  now_ += absl::Seconds(1);
  cache.Remember({"b", "1"}, User("b"));
  now_ += absl::Seconds(1);
  cache.Remember({"c", "1"}, User("c"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Find({"a", "1"}).has_value());
  EXPECT_TRUE(cache.Find({"b", "1"}).has_value());
  EXPECT_TRUE(cache.Find({"c", "1"}).has_value());
}

TEST_F(CredentialCacheTest, TwoCachesDoNotShareKeys) {
  // Each cache keys with its own random HMAC key; nothing in one says anything about another.
  CredentialCache one(Options()), two(Options());
  one.Remember({"ops", "changeit"}, User("ops"));
  EXPECT_FALSE(two.Find({"ops", "changeit"}).has_value());
}

}  // namespace
}  // namespace esdb::auth
