// The dev node's command line, run as a real process: --help documents every flag and exits 0;
// an unknown or incomplete flag exits 2 with a message. Both hosts accept every flag they list.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_process.h"

namespace esdb::e2e {
namespace {

using ::testing::HasSubstr;

// The flags src/devnode/main.cc defines: the names in its FlagSpec table, read from the source
// so that a new flag is covered without editing this test.
std::vector<std::string> DefinedFlags() {
  std::ifstream in(std::string(ESDB_SOURCE_DIR) + "/src/devnode/main.cc");
  std::stringstream text;
  text << in.rdbuf();
  const std::string source = text.str();
  const size_t begin = source.find("esdb::hosting::Flags flags(");
  const size_t end = source.find("});", begin);
  if (begin == std::string::npos || end == std::string::npos) return {};
  const std::string table = source.substr(begin, end - begin);
  std::vector<std::string> names;
  const std::regex entry(R"re(\n\s*\{"([a-z][a-z0-9-]*)",)re");
  for (std::sregex_iterator it(table.begin(), table.end(), entry), last; it != last; ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

// The "--name" words at the start of the help's lines.
std::vector<std::string> ListedFlags(const std::string& help) {
  std::vector<std::string> names;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "--")) continue;
    names.emplace_back(line.substr(0, line.find_first_of(" \t=")));
  }
  return names;
}

TEST(DevnodeFlagsTest, HelpListsEveryFlagAndExitsZero) {
  auto run = RunToExit({DevnodeBinary(), "--help"}, absl::Seconds(60));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(run->status.CleanExit()) << run->status.ToString() << "\n" << run->err;
  EXPECT_THAT(run->out, HasSubstr("Usage: esdb-devnode"));
  std::vector<std::string> expected = DefinedFlags();
  // The flags every version has: proves the table was found and read.
  ASSERT_THAT(expected, ::testing::IsSupersetOf({"db", "bind", "http-port", "connectors-library",
                                                 "plugins-dir", "member-id", "sync", "log-level"}));
  expected.push_back("help");
  std::vector<std::string> listed = ListedFlags(run->out);
  EXPECT_THAT(listed, ::testing::UnorderedElementsAreArray(expected)) << run->out;
  // Each flag comes with a description on the following line.
  for (const std::string& flag : listed) {
    size_t at = run->out.find("--" + flag);
    size_t eol = run->out.find('\n', at);
    ASSERT_NE(eol, std::string::npos);
    size_t next_eol = run->out.find('\n', eol + 1);
    std::string description = run->out.substr(eol + 1, next_eol - eol - 1);
    EXPECT_GT(absl::StripAsciiWhitespace(description).size(), 10u) << "--" << flag;
  }
  // Help does not start a node (it would print "listening on").
  EXPECT_THAT(run->out, ::testing::Not(HasSubstr("listening on")));
}

// docs/operations.md documents every flag either host's --help lists, as `--name`.
TEST(DevnodeFlagsTest, OperationsGuideDocumentsEveryFlagOfBothHosts) {
  std::ifstream in(std::string(ESDB_SOURCE_DIR) + "/docs/operations.md");
  std::stringstream guide;
  guide << in.rdbuf();
  ASSERT_THAT(guide.str(), HasSubstr("`--db`"));  // the file was found and read
  const std::string sidecar =
      std::filesystem::path(DevnodeBinary()).parent_path() / "esdb-connectors-sidecar";
  for (const std::string& binary : {DevnodeBinary(), sidecar}) {
    auto help = RunToExit({binary, "--help"}, absl::Seconds(60));
    ASSERT_TRUE(help.ok()) << help.status();
    std::vector<std::string> flags = ListedFlags(help->out);
    ASSERT_GT(flags.size(), 5u) << binary;
    for (const std::string& flag : flags) {
      EXPECT_THAT(guide.str(), HasSubstr("`--" + flag + "`")) << binary << " --" << flag;
    }
  }
}

TEST(DevnodeFlagsTest, EveryListedFlagIsAccepted) {
  // Flags each host has had from the start, named here rather than read from --help, so a flag
  // that drops out of the help (or out of the parser) is caught too.
  const std::vector<std::pair<std::string, std::vector<std::string>>> hosts = {
      {DevnodeBinary(),
       {"db", "bind", "http-port", "connectors-library", "plugins-dir", "member-id", "sync",
        "log-level"}},
      {BinaryPath("esdb-connectors-sidecar"),
       {"connection-string", "http-port", "connectors-library", "plugins-dir", "member-id",
        "host-id", "log-level", "insecure"}}};
  for (const auto& [binary, known] : hosts) {
    // The parser checks every argument before --help takes effect: an unknown flag on either
    // side of --help is still a usage error. Without that, the run below would prove nothing.
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {binary, "--bogus", "--help"}, {binary, "--help", "--bogus"}}) {
      auto bogus = RunToExit(argv, absl::Seconds(60));
      ASSERT_TRUE(bogus.ok()) << bogus.status();
      EXPECT_TRUE(bogus->status.exited && bogus->status.code == 2)
          << absl::StrJoin(argv, " ") << ": " << bogus->status.ToString();
      EXPECT_THAT(bogus->err, HasSubstr("--bogus")) << binary;
      EXPECT_THAT(bogus->out, ::testing::Not(HasSubstr("Usage:"))) << binary;
    }

    // So a flag that the help shows or this test knows, but the parser does not, makes this
    // exit 2 instead of 0.
    auto help = RunToExit({binary, "--help"}, absl::Seconds(60));
    ASSERT_TRUE(help.ok()) << help.status();
    std::vector<std::string> listed = ListedFlags(help->out);
    EXPECT_THAT(listed, ::testing::IsSupersetOf(known)) << help->out;
    std::vector<std::string> argv = {binary};
    for (const std::string& flag : known) argv.push_back("--" + flag + "=x");
    for (const std::string& flag : listed) {
      if (flag != "help") argv.push_back("--" + flag + "=x");
    }
    argv.push_back("--help");
    auto run = RunToExit(argv, absl::Seconds(60));
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_TRUE(run->status.CleanExit()) << run->status.ToString() << "\n" << run->err;
  }
}

TEST(DevnodeFlagsTest, UnknownFlagExitsTwoWithAMessage) {
  auto run = RunToExit({DevnodeBinary(), "--no-such-flag=1"}, absl::Seconds(60));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(run->status.exited) << run->status.ToString();
  EXPECT_EQ(run->status.code, 2) << run->err;
  EXPECT_THAT(run->err, HasSubstr("no-such-flag"));
  EXPECT_THAT(run->out, ::testing::Not(HasSubstr("listening on")));
}

TEST(DevnodeFlagsTest, FlagWithoutValueAndStrayArgumentExitTwo) {
  auto missing = RunToExit({DevnodeBinary(), "--db"}, absl::Seconds(60));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status.code, 2) << missing->status.ToString();
  EXPECT_THAT(missing->err, HasSubstr("--db"));

  auto stray = RunToExit({DevnodeBinary(), "serve"}, absl::Seconds(60));
  ASSERT_TRUE(stray.ok()) << stray.status();
  EXPECT_EQ(stray->status.code, 2) << stray->status.ToString();
  EXPECT_THAT(stray->err, HasSubstr("serve"));
}

TEST(DevnodeFlagsTest, BadValueExitsOneBeforeListening) {
  // Through NodeProcess, which must report a node that dies before it is ready, with its words.
  char dir_template[] = "/tmp/esdb-e2e-flags-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  NodeOptions options;
  options.data_dir = dir_template;
  options.extra_args = {"--sync", "sometimes"};
  NodeProcess node(options);
  absl::Status started = node.Start();
  EXPECT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("exit code 1"));
  EXPECT_THAT(started.message(), HasSubstr("--sync must be 'normal' or 'full'"));
  EXPECT_FALSE(node.running());
  std::filesystem::remove_all(dir_template);
}

}  // namespace
}  // namespace esdb::e2e
