#include "core/regex.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

using ::testing::HasSubstr;

TEST(RegexTest, SearchesUnanchored) {
  auto re = CompileRegex("^order-[0-9]+$|Placed", "k");
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_TRUE(RegexFound(**re, "order-12"));
  EXPECT_TRUE(RegexFound(**re, "xPlacedx"));
  EXPECT_FALSE(RegexFound(**re, "order-12a"));
}

TEST(RegexTest, BackReferencesAndLookAroundAreRefusedWithTheReason) {
  for (const char* p : {R"((a)\1)", "a(?=b)", "(?<!a)b", "([unclosed"}) {
    auto re = CompileRegex(p, "subscription:filter:expression");
    ASSERT_FALSE(re.ok()) << p;
    EXPECT_EQ(re.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(re.status().message(), HasSubstr("subscription:filter:expression: '"));
    EXPECT_THAT(re.status().message(), HasSubstr("RE2"));
  }
}

TEST(RegexTest, DeeplyNestedGroupsCompileWithoutRecursion) {
  // std::regex overflowed the stack compiling this; RE2 parses and compiles iteratively.
  std::string p = std::string(30000, '(') + "a" + std::string(30000, ')');
  auto re = CompileRegex(p, "k");
  ASSERT_TRUE(re.ok()) << re.status();
  EXPECT_TRUE(RegexFound(**re, "xay"));
  EXPECT_FALSE(RegexFound(**re, "xy"));
}

TEST(RegexTest, ErrorsQuoteAnExcerptOfTheirPattern) {
  auto re = CompileRegex(std::string(30000, '('), "k");
  ASSERT_FALSE(re.ok());
  EXPECT_LT(re.status().message().size(), 400u);  // not 30 KB of pattern echoed back
}

TEST(RegexTest, HugeProgramsAreRefusedAsTooLarge) {
  auto re = CompileRegex("(abcdefgh){1000}{1000}", "k");
  ASSERT_FALSE(re.ok());
  EXPECT_THAT(re.status().message(), HasSubstr("RE2"));
}

TEST(RegexTest, CatastrophicBacktrackingPatternsMatchInLinearTime) {
  // With a backtracking engine, (a+)+$ against "aaa...a!" doubles its work with every 'a'; 31 of
  // them kept a connector at 100 % of a core for 90 s. RE2 answers 100,000 of them at once (a
  // backtracking engine would not finish before the test's timeout).
  auto re = CompileRegex("(a+)+$", "k");
  ASSERT_TRUE(re.ok());
  std::string subject(100000, 'a');
  subject += '!';
  EXPECT_FALSE(RegexFound(**re, subject));
  subject.pop_back();
  EXPECT_TRUE(RegexFound(**re, subject));
}

}  // namespace
}  // namespace esdb
