// Checking connector settings against a plugin's table: SinkPlugin::Validate end to end through
// the testkit plugin, and the schema helpers on hand-made tables.
#include "sinks/setting_schema.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

using ::esdb::testing::LoadOrFail;
using ::esdb::testing::PluginPath;
using ::esdb::testing::TestdataPluginPath;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = LoadOrFail(TestdataPluginPath("testkit"));
    ASSERT_NE(plugin_, nullptr);
  }
  absl::Status Check(SettingsMap settings) {
    settings.emplace("target", "somewhere");  // unless the test set it
    return plugin_->Validate(settings);
  }
  std::unique_ptr<SinkPlugin> plugin_;
};

TEST_F(ValidateTest, AcceptsGoodSettings) {
  EXPECT_TRUE(Check({}).ok());
  EXPECT_TRUE(Check({{"count", "-3"},
                     {"verbose", "TRUE"},
                     {"mode", "Late-Twice"},
                     {"headers:X-Trace", "on"},
                     {"headers:Y", ""},
                     {"token", "s3cret"}})
                  .ok());
}

TEST_F(ValidateTest, UnknownKeyIsNamedWithTheKnownOnes) {
  absl::Status s = Check({{"colour", "red"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("colour: unknown setting for testkit-sink"),
                                 HasSubstr("target, count"), HasSubstr("headers:*")));
}

// The host keeps its own keys (ParseSettings); one that got here anyway is not the plugin's.
TEST_F(ValidateTest, HostKeysAreNeverPassedOnToThePlugin) {
  for (const char* key : {"batching:batchSize", "subscription:filter:scope", "autocommit:enabled",
                          "resilience:maxAttempts", "logging:enabled", "transformer:enabled"}) {
    EXPECT_THAT(Check({{key, "1"}}).message(), HasSubstr(absl::StrCat(key, ": unknown setting")));
  }
}

TEST_F(ValidateTest, PrefixFamilyNeedsSomethingAfterThePrefix) {
  EXPECT_THAT(Check({{"headers:", "x"}}).message(), HasSubstr("headers:: unknown setting"));
  EXPECT_THAT(Check({{"header:X", "x"}}).message(), HasSubstr("header:X: unknown setting"));
}

TEST_F(ValidateTest, MissingOrEmptyRequiredSetting) {
  absl::Status missing = plugin_->Validate({{"count", "1"}});
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.message(), HasSubstr("target: required setting of testkit-sink is missing"));
  absl::Status empty = plugin_->Validate({{"target", ""}});
  EXPECT_THAT(empty.message(), HasSubstr("target: required setting"));
}

TEST_F(ValidateTest, BadIntegers) {
  for (const char* bad : {"12abc", "+5", "", "1.5", " 7", "-", "99999999999999999999"}) {
    absl::Status s = Check({{"count", bad}});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("count: '"), HasSubstr("expected a whole number")))
        << bad;
  }
}

TEST_F(ValidateTest, BadBoolean) {
  absl::Status s = Check({{"verbose", "yes"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("verbose: 'yes' is not valid, expected true or false"));
}

TEST_F(ValidateTest, BadEnumListsTheChoices) {
  absl::Status s = Check({{"flushResult", "sideways"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("flushResult: 'sideways' is not valid, expected one of ok, retry, fatal"));
}

TEST_F(ValidateTest, PluginsOwnValidateRuns) {
  EXPECT_TRUE(Check({{"count", "1000"}}).ok());
  absl::Status s = Check({{"count", "1001"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("testkit-sink: count: must be at most 1000"));
}

TEST_F(ValidateTest, Secrets) {
  EXPECT_TRUE(plugin_->IsSecret("token"));
  EXPECT_FALSE(plugin_->IsSecret("target"));
  EXPECT_FALSE(plugin_->IsSecret("headers:X"));
  EXPECT_FALSE(plugin_->IsSecret("unknown"));
}

TEST(ValidateRealPluginsTest, NullSinkTakesNoSettings) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("null"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_TRUE(plugin->Validate({}).ok());
  EXPECT_THAT(plugin->Validate({{"path", "x"}}).message(),
              HasSubstr("path: unknown setting for null-sink (it accepts no settings)"));
}

TEST(ValidateRealPluginsTest, FileSinkNeedsAPathAndABooleanFsync) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("file"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_TRUE(plugin->Validate({{"path", "/tmp/x.jsonl"}}).ok());
  EXPECT_THAT(plugin->Validate({}).message(), HasSubstr("path: required"));
  EXPECT_THAT(plugin->Validate({{"path", "/tmp/x"}, {"fsync", "sometimes"}}).message(),
              HasSubstr("fsync: 'sometimes' is not valid"));
}

TEST(ValidateRealPluginsTest, LoggerSinkLevel) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(PluginPath("logger"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_TRUE(plugin->Validate({{"level", "warn"}}).ok());
  EXPECT_THAT(plugin->Validate({{"level", "loud"}}).message(),
              HasSubstr("level: 'loud' is not valid, expected one of debug, info, warn, error"));
}

// The helpers directly, on tables no plugin ships.

SettingInfo Info(std::string name, std::string type, bool secret = false) {
  SettingInfo info;
  info.name = std::move(name);
  info.type = std::move(type);
  info.secret = secret;
  return info;
}

TEST(PrepareSettingsTest, NeverQuotesASecretValue) {
  std::vector<SettingInfo> table = {Info("pin", "int", /*secret=*/true)};
  absl::StatusOr<SettingsMap> out = PrepareSettings("vault-sink", table, {{"pin", "hunter2"}});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(),
              AllOf(HasSubstr("pin: the value is not valid"), Not(HasSubstr("hunter2"))));
}

TEST(PrepareSettingsTest, RequiredFamilyNeedsOneMember) {
  SettingInfo family = Info("topics:", "string");
  family.required = true;
  std::vector<SettingInfo> table = {family, Info("topicsCount", "int")};
  EXPECT_THAT(PrepareSettings("k-sink", table, {{"topicsCount", "1"}}).status().message(),
              HasSubstr("topics:: k-sink requires at least one 'topics:...' setting"));
  EXPECT_TRUE(PrepareSettings("k-sink", table, {{"topics:a", "x"}}).ok());
}

TEST(PrepareSettingsTest, LongestFamilyGoverns) {
  std::vector<SettingInfo> table = {Info("a:", "string"), Info("a:b:", "int")};
  EXPECT_EQ(FindSetting(table, "a:b:c"), &table[1]);
  EXPECT_EQ(FindSetting(table, "a:x"), &table[0]);
  EXPECT_THAT(PrepareSettings("s", table, {{"a:b:c", "nope"}}).status().message(),
              HasSubstr("a:b:c: 'nope' is not valid, expected a whole number"));
}

TEST(PrepareSettingsTest, AddsDefaultsAndCanonicalSpellings) {
  SettingInfo level = Info("level", "enum");
  level.enum_values = {"debug", "info"};
  level.has_default = true;
  level.default_value = "info";
  SettingInfo flag = Info("flag", "bool");
  flag.has_default = true;
  flag.default_value = "false";
  absl::StatusOr<SettingsMap> out = PrepareSettings("s", {level, flag}, {{"flag", "True"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, UnorderedElementsAre(Pair("flag", "true"), Pair("level", "info")));
}

esdb_sink_setting Entry(const char* name, esdb_sink_setting_type type) {
  esdb_sink_setting entry = {};
  entry.struct_size = sizeof(esdb_sink_setting);
  entry.name = name;
  entry.type = type;
  return entry;
}

TEST(CopySettingInfoTest, RejectsMalformedEntries) {
  esdb_sink_setting small = Entry("x", ESDB_SINK_SETTING_STRING);
  small.struct_size = 8;
  EXPECT_THAT(CopySettingInfo(small).status().message(), HasSubstr("struct_size 8"));
  EXPECT_THAT(CopySettingInfo(Entry(nullptr, ESDB_SINK_SETTING_STRING)).status().message(),
              HasSubstr("no name"));
  for (const char* host_key : {"batching:batchSize", "batching:", "errors:foo", "affinity",
                               "logging:level"}) {
    EXPECT_THAT(CopySettingInfo(Entry(host_key, ESDB_SINK_SETTING_STRING)).status().message(),
                HasSubstr("is the host's")) << host_key;
  }
  EXPECT_THAT(CopySettingInfo(Entry("x", 9)).status().message(),
              HasSubstr("setting 'x' has unknown type 9"));
  EXPECT_THAT(CopySettingInfo(Entry("e", ESDB_SINK_SETTING_ENUM)).status().message(),
              HasSubstr("enum setting 'e' lists no values"));
  esdb_sink_setting bad_default = Entry("n", ESDB_SINK_SETTING_INT);
  bad_default.default_value = "ten";
  EXPECT_THAT(CopySettingInfo(bad_default).status().message(),
              HasSubstr("setting 'n' has default 'ten', expected a whole number"));
}

TEST(CopySettingInfoTest, CopiesEveryField) {
  esdb_sink_setting entry = Entry("level", ESDB_SINK_SETTING_ENUM);
  entry.enum_values = "low|high";
  entry.default_value = "HIGH";
  entry.required = 1;
  entry.secret = 1;
  entry.description = "How loud.";
  absl::StatusOr<SettingInfo> info = CopySettingInfo(entry);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "level");
  EXPECT_EQ(info->type, "enum");
  EXPECT_THAT(info->enum_values, ::testing::ElementsAre("low", "high"));
  EXPECT_TRUE(info->has_default);
  EXPECT_EQ(info->default_value, "high");  // canonical spelling
  EXPECT_TRUE(info->required);
  EXPECT_TRUE(info->secret);
  EXPECT_EQ(info->description, "How loud.");
}

}  // namespace
}  // namespace esdb
