// PluginSet: loading a folder of plugins and finding them by instanceTypeName.
#include <filesystem>
#include <span>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/plugin.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

using ::esdb::testing::PluginPath;
using ::esdb::testing::TempDir;
using ::esdb::testing::TestdataPluginPath;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<std::string> Names(const PluginSet& set) {
  std::vector<std::string> names;
  for (const SinkPlugin* p : set.All()) names.push_back(p->name());
  return names;
}

TEST(PluginSetTest, LoadsTheShippedPlugins) {
  std::vector<std::string> errors;
  absl::StatusOr<PluginSet> set =
      PluginSet::LoadDirectory(ESDB_PLUGIN_DIR, [&](const std::string& e) { errors.push_back(e); });
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(errors, IsEmpty());
  for (const char* name : {"null-sink", "logger-sink", "file-sink", "test-c-sink"}) {
    EXPECT_THAT(Names(*set), Contains(name));
  }
  absl::StatusOr<const SinkPlugin*> file = set->Find("file-sink");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->path(), PluginPath("file"));
}

TEST(PluginSetTest, NotFoundListsTheKnownNames) {
  absl::StatusOr<PluginSet> set = PluginSet::LoadDirectory(ESDB_PLUGIN_DIR, nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  absl::Status s = set->Find("nope-sink").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("no sink plugin named 'nope-sink' is loaded"), HasSubstr("known: "),
                    HasSubstr("file-sink"), HasSubstr("logger-sink"), HasSubstr("null-sink")));
}

TEST(PluginSetTest, EmptySetSaysSo) {
  PluginSet set;
  EXPECT_THAT(set.Find("file-sink").status().message(), HasSubstr("no plugins are loaded"));
  EXPECT_THAT(set.All(), IsEmpty());
}

// The test plugins the host refuses to load, sorted by file name (the order they are read in).
std::vector<std::string> RefusedTestdataPlugins() {
  std::vector<std::string> paths;
  for (const char* name : {"bad_table", "named_64", "named_65", "named_empty", "named_host",
                           "named_path", "newer_abi", "no_entry", "null_entry"}) {
    paths.push_back(TestdataPluginPath(name));
  }
  return paths;
}

TEST(PluginSetTest, BrokenPluginsAreReportedAndSkipped) {
  std::vector<std::string> errors;
  absl::StatusOr<PluginSet> set = PluginSet::LoadDirectory(
      ESDB_TESTDATA_PLUGIN_DIR, [&](const std::string& e) { errors.push_back(e); });
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Names(*set), UnorderedElementsAre("open-fails-sink", "testkit-sink",
                                                "older-release-sink", "newer-release-sink"));
  std::vector<::testing::Matcher<const std::string&>> broken;
  for (const std::string& path : RefusedTestdataPlugins()) broken.push_back(HasSubstr(path));
  EXPECT_THAT(errors, ElementsAreArray(broken));
}

TEST(PluginSetTest, OnlyPluginFileNamesAreConsideredAndDuplicatesAreReported) {
  TempDir dir;
  std::filesystem::copy_file(PluginPath("null"), dir.File("libesdb_sink_a.so"));
  std::filesystem::copy_file(PluginPath("null"), dir.File("libesdb_sink_b.so"));
  std::filesystem::copy_file(PluginPath("file"), dir.File("libesdb_sink_file.so.bak"));
  std::filesystem::copy_file(PluginPath("file"), dir.File("file.so"));
  testing::WriteFile(dir.File("README"), "not a plugin");
  std::vector<std::string> errors;
  absl::StatusOr<PluginSet> set =
      PluginSet::LoadDirectory(dir.path(), [&](const std::string& e) { errors.push_back(e); });
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Names(*set), ElementsAre("null-sink"));
  EXPECT_EQ((*set->Find("null-sink"))->path(), dir.File("libesdb_sink_a.so"));
  EXPECT_THAT(errors, ElementsAre(AllOf(HasSubstr(dir.File("libesdb_sink_b.so")),
                                        HasSubstr("is named 'null-sink' like"),
                                        HasSubstr("libesdb_sink_a.so"))));
  ASSERT_EQ(set->refused().size(), 1u);
  EXPECT_EQ(set->refused()[0].path, dir.File("libesdb_sink_b.so"));
  EXPECT_EQ(set->refused()[0].reason, errors[0]);
}

TEST(PluginSetTest, RefusedFilesAreListedWithTheirReasons) {
  absl::StatusOr<PluginSet> set = PluginSet::LoadDirectory(ESDB_TESTDATA_PLUGIN_DIR, nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<std::string> paths;
  for (const RefusedPlugin& r : set->refused()) {
    paths.push_back(r.path);
    EXPECT_THAT(r.reason, HasSubstr(r.path));
  }
  EXPECT_EQ(paths, RefusedTestdataPlugins());
}

// Rewriting a loaded plugin's file in place (what `cp new.so old.so` does) must not reach the
// code the host runs: it runs a private copy. Loaded in place, the next call into the plugin
// would execute the new bytes, or die of SIGBUS on the truncated file.
TEST(PluginSetTest, APluginFileRewrittenInPlaceLeavesTheLoadedPluginWorking) {
  TempDir dir;
  const std::string file = dir.File("libesdb_sink_testc.so");
  std::filesystem::copy_file(PluginPath("testc"), file);
  std::vector<std::string> warnings;
  absl::StatusOr<PluginSet> set = PluginSet::LoadDirectory(
      dir.path(), nullptr, [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(warnings, IsEmpty());
  absl::StatusOr<const SinkPlugin*> plugin = set->Find("test-c-sink");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_EQ((*plugin)->path(), file);  // the file it came from, not the copy

  const uintmax_t size = std::filesystem::file_size(file);
  testing::WriteFile(file, std::string(size / 2, '\xcc'));  // same inode, truncated and rewritten
  TempDir out;
  {
    absl::StatusOr<std::unique_ptr<Sink>> sink =
        (*plugin)->Open({"c1"}, {{"path", out.File("lines.txt")}}, nullptr);
    ASSERT_TRUE(sink.ok()) << sink.status();
    Record record = testing::MakeRecord("orders-1", 0, 7, "Placed");
    EXPECT_EQ((*sink)->Write(std::span<const Record>(&record, 1)).outcome, SinkOutcome::kOk);
  }
  EXPECT_THAT(testing::ReadFile(out.File("lines.txt")), HasSubstr("orders-1 0 7 Placed"));
  *set = PluginSet();  // unloading (dlclose) runs the plugin's own code once more
}

TEST(PluginSetTest, MissingDirectoryIsNotFound) {
  absl::StatusOr<PluginSet> set = PluginSet::LoadDirectory("/nonexistent/plugins", nullptr);
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(set.status().message(), HasSubstr("'/nonexistent/plugins'"));
}

TEST(PluginSetTest, AddMakesAPluginFindable) {
  PluginSet set;
  auto plugin = SinkPlugin::Load(PluginPath("logger"));
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  set.Add(*std::move(plugin));
  absl::StatusOr<const SinkPlugin*> found = set.Find("logger-sink");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)->name(), "logger-sink");
}

}  // namespace
}  // namespace esdb
