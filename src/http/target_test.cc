#include "http/target.h"

#include "core/text.h"
#include "gtest/gtest.h"

namespace esdb::http {
namespace {

TEST(PercentEncodePathTest, RoundTripsAndKeepsSlashes) {
  const std::string path = "/connectors/my id/é?#%";
  const std::string encoded = PercentEncodePath(path);
  EXPECT_EQ(encoded, "/connectors/my%20id/%C3%A9%3F%23%25");
  EXPECT_EQ(*PercentDecode(encoded, PlusSign::kLiteral), path);
}

TEST(ParseTargetTest, SplitsPathAndRawQuery) {
  absl::StatusOr<Target> target = ParseTarget("/a%20b/c?x=%20&y=1?z");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->path, "/a b/c");
  EXPECT_EQ(target->query, "x=%20&y=1?z");

  target = ParseTarget("/plain");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->path, "/plain");
  EXPECT_EQ(target->query, "");
}

TEST(ParseTargetTest, AcceptsAbsoluteAndAsteriskForms) {
  absl::StatusOr<Target> target = ParseTarget("http://example.com:2113/x%2Fy?q=1");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->path, "/x/y");
  EXPECT_EQ(target->query, "q=1");

  target = ParseTarget("HTTP://example.com");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->path, "/");

  target = ParseTarget("http://example.com?q");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->path, "/");
  EXPECT_EQ(target->query, "q");

  target = ParseTarget("*");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->path, "*");
}

TEST(ParseTargetTest, RejectsOtherForms) {
  for (const char* bad : {"", "relative/path", "example.com:443", "/bad%zz", "ftp://x/y"}) {
    EXPECT_EQ(ParseTarget(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace esdb::http
