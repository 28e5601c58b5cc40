#include "auth/basic_credentials.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(BasicCredentialsTest, RoundTripsAPasswordWithColons) {
  auto parsed = ParseAuthorization(BasicAuthorization("ops", "a:b:c"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->has_value());
  EXPECT_EQ((*parsed)->user, "ops");
  EXPECT_EQ((*parsed)->password, "a:b:c");
}

TEST(BasicCredentialsTest, SchemeIsCaseInsensitiveAndSpacesAreTolerated) {
  auto parsed = ParseAuthorization("  basic   " + absl::Base64Escape("admin:changeit") + " ");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)->user, "admin");
}

TEST(BasicCredentialsTest, NoValueIsNoCredentials) {
  auto parsed = ParseAuthorization("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->has_value());
}

TEST(BasicCredentialsTest, RefusesOtherSchemesAndMalformedValues) {
  for (const std::string& value :
       {std::string("Bearer abc.def"), std::string("Basic"), std::string("Basic !!!"),
        "Basic " + absl::Base64Escape("no-colon"), "Basic " + absl::Base64Escape(":pw"),
        "Basic " + absl::Base64Escape("us\ner:pw"), "Basic " + std::string(9000, 'A')}) {
    auto parsed = ParseAuthorization(value);
    EXPECT_TRUE(absl::IsUnauthenticated(parsed.status())) << value;
  }
}

TEST(BasicCredentialsTest, ErrorsNeverQuoteThePassword) {
  auto parsed = ParseAuthorization("Basic " + absl::Base64Escape("us\x01r:s3cret-pw"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace esdb::auth
