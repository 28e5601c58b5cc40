#include "hosting/flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::hosting {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Flags Make() {
  return Flags("prog", "summary",
               {{"db", "x.db", "the log"},
                {"insecure", "", "no TLS, no authentication", FlagSpec::Kind::kSwitch}});
}

absl::Status Parse(Flags& flags, std::vector<std::string> args) {
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return flags.Parse(static_cast<int>(argv.size()), argv.data());
}

TEST(FlagsTest, SwitchAloneIsTrueAndLeavesTheNextWordAlone) {
  Flags flags = Make();
  ASSERT_TRUE(Parse(flags, {"--insecure", "--db", "y.db"}).ok());
  EXPECT_EQ(*flags.GetBool("insecure"), true);
  EXPECT_EQ(flags.Get("db"), "y.db");
}

TEST(FlagsTest, SwitchNotGivenIsFalse) {
  Flags flags = Make();
  ASSERT_TRUE(Parse(flags, {}).ok());
  EXPECT_EQ(*flags.GetBool("insecure"), false);
}

TEST(FlagsTest, SwitchTakesAnExplicitValue) {
  Flags flags = Make();
  ASSERT_TRUE(Parse(flags, {"--insecure=false"}).ok());
  EXPECT_EQ(*flags.GetBool("insecure"), false);
  ASSERT_TRUE(Parse(flags, {"--insecure=1"}).ok());
  EXPECT_EQ(*flags.GetBool("insecure"), true);
  ASSERT_TRUE(Parse(flags, {"--insecure=maybe"}).ok());  // checked when read, after --help
  EXPECT_THAT(flags.GetBool("insecure").status().message(), HasSubstr("--insecure"));
}

TEST(FlagsTest, ValueFlagStillNeedsAValue) {
  Flags flags = Make();
  EXPECT_FALSE(Parse(flags, {"--db"}).ok());
}

TEST(FlagsTest, UsageShowsNoDefaultForASwitch) {
  const std::string usage = Make().Usage();
  EXPECT_THAT(usage, HasSubstr("(default: x.db)"));
  EXPECT_THAT(usage, HasSubstr("--insecure\n      no TLS, no authentication\n"));
  EXPECT_THAT(usage, Not(HasSubstr("(default: )")));
}

}  // namespace
}  // namespace esdb::hosting
