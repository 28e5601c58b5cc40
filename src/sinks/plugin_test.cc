// SinkPlugin::Load (every refusal and its message) and SinkPlugin::Open outcomes.
#include "sinks/plugin.h"

#include <cstdlib>
#include <span>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/dl_library.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

using ::esdb::testing::LoadOrFail;
using ::esdb::testing::LogCapture;
using ::esdb::testing::PluginPath;
using ::esdb::testing::TempDir;
using ::esdb::testing::TestdataPluginPath;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

absl::Status LoadStatus(const std::string& path) { return SinkPlugin::Load(path).status(); }

TEST(SinkPluginLoadTest, MissingFileIsNotFoundNamingTheFile) {
  absl::Status s = LoadStatus("/nonexistent/dir/libesdb_sink_ghost.so");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("'/nonexistent/dir/libesdb_sink_ghost.so'"),
                                 HasSubstr("No such file or directory")));
}

TEST(SinkPluginLoadTest, FileThatIsNotASharedObjectReportsTheLoaderError) {
  TempDir dir;
  std::string path = dir.File("libesdb_sink_text.so");
  testing::WriteFile(path, std::string(256, 'x') + "\nnot an ELF file at all\n");
  absl::Status s = LoadStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("'" + path + "'"), HasSubstr("is not a loadable shared object"),
                    HasSubstr("invalid ELF header")));
}

TEST(SinkPluginLoadTest, DirectoryIsRefused) {
  TempDir dir;
  absl::Status s = LoadStatus(dir.path());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("is not a regular file"));
}

TEST(SinkPluginLoadTest, MissingEntrySymbol) {
  std::string path = TestdataPluginPath("no_entry");
  absl::Status s = LoadStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("'" + path + "'"), HasSubstr("does not export esdb_sink_entry")));
}

TEST(SinkPluginLoadTest, EntryReturningNull) {
  std::string path = TestdataPluginPath("null_entry");
  absl::Status s = LoadStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("'" + path + "'"), HasSubstr("esdb_sink_entry(1) returned NULL")));
}

TEST(SinkPluginLoadTest, PluginNeedingANewerHostStatesBothVersions) {
  std::string path = TestdataPluginPath("newer_abi");
  absl::Status s = LoadStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("'" + path + "'"),
                                 HasSubstr("needs a host with sink ABI version 2 or newer"),
                                 HasSubstr("this host implements version 1")));
}

TEST(SinkPluginLoadTest, MalformedTableNamesTheMissingFunction) {
  std::string path = TestdataPluginPath("bad_table");
  absl::Status s = LoadStatus(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("'" + path + "'"),
                                 HasSubstr("malformed plugin table: open is NULL")));
}

TEST(SinkPluginLoadTest, NamesOfAnotherShapeOrTheHostsOwnAreRefused) {
  // The name is checked before the table's functions (these tables lack open, too).
  std::string path = TestdataPluginPath("named_host");
  EXPECT_THAT(LoadStatus(path).message(),
              AllOf(HasSubstr("'" + path + "'"), HasSubstr("its name 'host' is the host's own")));
  path = TestdataPluginPath("named_path");
  EXPECT_THAT(LoadStatus(path).message(),
              AllOf(HasSubstr("'" + path + "'"),
                    HasSubstr("its name has a character other than letters, digits")));
  EXPECT_THAT(LoadStatus(TestdataPluginPath("named_65")).message(),
              HasSubstr("its name is longer than 64 bytes"));
  EXPECT_THAT(LoadStatus(TestdataPluginPath("named_empty")).message(), HasSubstr("no name"));
  // 64 bytes pass the name check: what is reported is the table's missing open().
  EXPECT_THAT(LoadStatus(TestdataPluginPath("named_64")).message(),
              AllOf(HasSubstr("open is NULL"), Not(HasSubstr("its name"))));
}

TEST(SinkPluginLoadTest, CopiesDescriptionAndSettingsTable) {
  std::string path = TestdataPluginPath("testkit");
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(path);
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->name(), "testkit-sink");
  EXPECT_EQ(plugin->version(), "0.1.0");
  EXPECT_EQ(plugin->description(), "Behaves as its settings say; for tests.");
  EXPECT_EQ(plugin->path(), path);
  const std::vector<SettingInfo>& settings = plugin->settings();
  ASSERT_EQ(settings.size(), 8u);

  EXPECT_EQ(settings[0].name, "target");
  EXPECT_EQ(settings[0].type, "string");
  EXPECT_TRUE(settings[0].required);
  EXPECT_FALSE(settings[0].has_default);

  EXPECT_EQ(settings[1].name, "count");
  EXPECT_EQ(settings[1].type, "int");
  EXPECT_TRUE(settings[1].has_default);
  EXPECT_EQ(settings[1].default_value, "5");
  EXPECT_EQ(settings[1].description, "A number up to 1000.");

  EXPECT_EQ(settings[2].type, "bool");
  EXPECT_EQ(settings[3].name, "mode");
  EXPECT_EQ(settings[3].type, "enum");
  EXPECT_THAT(settings[5].enum_values, ElementsAre("ok", "retry", "fatal"));

  EXPECT_EQ(settings[6].name, "token");
  EXPECT_TRUE(settings[6].secret);
  EXPECT_FALSE(settings[0].secret);
  EXPECT_EQ(settings[7].name, "headers:");
}

TEST(SinkPluginLoadTest, RealPluginsDescribeThemselves) {
  std::unique_ptr<SinkPlugin> file = LoadOrFail(PluginPath("file"));
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->name(), "file-sink");
  ASSERT_EQ(file->settings().size(), 2u);
  EXPECT_EQ(file->settings()[0].name, "path");
  EXPECT_TRUE(file->settings()[0].required);
  EXPECT_EQ(file->settings()[1].name, "fsync");
  EXPECT_EQ(file->settings()[1].default_value, "true");

  std::unique_ptr<SinkPlugin> logger = LoadOrFail(PluginPath("logger"));
  ASSERT_NE(logger, nullptr);
  EXPECT_EQ(logger->name(), "logger-sink");
  ASSERT_EQ(logger->settings().size(), 1u);
  EXPECT_THAT(logger->settings()[0].enum_values, ElementsAre("debug", "info", "warn", "error"));
  EXPECT_EQ(logger->settings()[0].default_value, "info");

  std::unique_ptr<SinkPlugin> null_sink = LoadOrFail(PluginPath("null"));
  ASSERT_NE(null_sink, nullptr);
  EXPECT_EQ(null_sink->name(), "null-sink");
  EXPECT_TRUE(null_sink->settings().empty());
}

TEST(SinkPluginOpenTest, OpenFailureCarriesThePluginsMessageWithDefaultsApplied) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("open_fails"));
  ASSERT_NE(plugin, nullptr);
  auto sink = plugin->Open({"c1"}, {}, nullptr);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  // "nowhere:1" is the setting's default: the plugin saw it although nobody set it.
  EXPECT_THAT(sink.status().message(),
              AllOf(HasSubstr("open-fails-sink"), HasSubstr("INVALID_CONFIG"),
                    HasSubstr("endpoint: 'nowhere:1' does not accept connections")));
}

struct OpenCase {
  std::string open_result;
  absl::StatusCode code;
  std::string message;
};

class SinkPluginOpenOutcomeTest : public ::testing::TestWithParam<OpenCase> {};

TEST_P(SinkPluginOpenOutcomeTest, MapsTheStatus) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("testkit"));
  ASSERT_NE(plugin, nullptr);
  auto sink =
      plugin->Open({"c1"}, {{"target", "t"}, {"openResult", GetParam().open_result}}, nullptr);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), GetParam().code);
  EXPECT_THAT(sink.status().message(),
              AllOf(HasSubstr("testkit-sink"), HasSubstr(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    All, SinkPluginOpenOutcomeTest,
    ::testing::Values(
        OpenCase{"invalid-config", absl::StatusCode::kInvalidArgument,
                 "target: refused by openResult"},
        OpenCase{"retry", absl::StatusCode::kUnavailable, "(RETRY): target: not reachable yet"},
        OpenCase{"fatal", absl::StatusCode::kInternal, "(FATAL): target: gone for good"},
        OpenCase{"bogus", absl::StatusCode::kInternal, "(UNKNOWN): made-up status"},
        OpenCase{"no-instance", absl::StatusCode::kInternal,
                 "open reported OK but returned no instance"}));

TEST(SinkPluginOpenTest, OpenChecksSettingsFirst) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("testkit"));
  ASSERT_NE(plugin, nullptr);
  auto sink = plugin->Open({"c1"}, {{"target", "t"}, {"colour", "red"}}, nullptr);
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sink.status().message(), HasSubstr("colour: unknown setting"));
}

TEST(SinkPluginOpenTest, PluginSeesDefaultsAndCanonicalValuesAndConnectorId) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("testkit"));
  ASSERT_NE(plugin, nullptr);
  LogCapture log;
  {
    auto sink = plugin->Open(
        {"orders-to-file"},
        {{"target", "t"}, {"verbose", "TRUE"}, {"mode", "OK"}, {"headers:X-Trace", "1"}}, log.Fn());
    ASSERT_TRUE(sink.ok()) << sink.status();
  }
  // Keys arrive sorted; count/openResult/flushResult come from defaults, token has none.
  EXPECT_THAT(
      log.Messages(),
      ElementsAre("open connector=orders-to-file", "host batch=100/4194304 generation=0 epoch=0",
                  "setting count=5", "setting flushResult=ok", "setting headers:X-Trace=1",
                  "setting mode=ok", "setting openResult=ok", "setting target=t",
                  "setting verbose=true", "close"));
}

// The host's own values reach the plugin in esdb_sink_host, never as settings: a sink can shape
// its requests after the batches it will get, and key a stored position by generation and epoch.
TEST(SinkPluginOpenTest, HostValuesReachThePluginInItsHostTable) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("testkit"));
  ASSERT_NE(plugin, nullptr);
  LogCapture log;
  {
    SinkContext context{.connector_id = "c1",
                        .generation = 2,
                        .epoch = 17,
                        .max_batch_records = 500,
                        .max_batch_bytes = 65536,
                        .max_in_flight = 8};
    auto sink = plugin->Open(context, {{"target", "t"}}, log.Fn());
    ASSERT_TRUE(sink.ok()) << sink.status();
  }
  EXPECT_THAT(log.Messages(), Contains("host batch=500/65536 generation=2 epoch=17"));
  EXPECT_THAT(log.Messages(), Contains("host maxInFlight=8"));
  // A host key is not the plugin's to receive.
  auto refused = plugin->Open({"c1"}, {{"target", "t"}, {"batching:batchSize", "500"}}, log.Fn());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
}

// Plugins built against other releases of esdb/sink.h (esdb/abi.h).
void ExpectItDelivers(const SinkPlugin& plugin) {
  LogCapture log;
  auto sink = plugin.Open({"c1"}, {}, log.Fn());
  ASSERT_TRUE(sink.ok()) << sink.status();
  Record record = testing::MakeRecord("s", 0, 1);
  EXPECT_EQ((*sink)->Write(std::span<const Record>(&record, 1)).outcome, SinkOutcome::kOk);
  EXPECT_TRUE((*sink)->Flush().ok());
  EXPECT_THAT(log.Messages(), ElementsAre("opened c1"));
}

TEST(SinkPluginAbiTest, AnOlderReleasesTablesCutToVersionOneLoadAndWork) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("older_release"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->name(), "older-release-sink");
  ASSERT_EQ(plugin->settings().size(), 1u);
  // Its entry ends before `target` (which holds 99 in memory): read as "points at nothing".
  EXPECT_EQ(plugin->settings()[0].target, ESDB_SINK_TARGET_NONE);
  EXPECT_EQ(plugin->settings()[0].default_value, "none");
  ExpectItDelivers(*plugin);
}

TEST(SinkPluginAbiTest, ANewerReleasesUnknownTrailingFieldsAreIgnored) {
  std::unique_ptr<SinkPlugin> plugin = LoadOrFail(TestdataPluginPath("newer_release"));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->name(), "newer-release-sink");
  EXPECT_EQ(plugin->version(), "2.0.0");
  ASSERT_EQ(plugin->settings().size(), 1u);
  EXPECT_EQ(plugin->settings()[0].name, "label");
  ExpectItDelivers(*plugin);
}

// The other direction: shipped plugins given the host table of an older or a newer host.
TEST(SinkPluginAbiTest, ShippedPluginsOpenWithAVersionOneOrANewerHostTable) {
  absl::StatusOr<DlLibrary> library = DlLibrary::Open(PluginPath("testc"));
  ASSERT_TRUE(library.ok()) << library.status();
  auto entry = reinterpret_cast<esdb_sink_entry_fn>(library->Find(ESDB_SINK_ENTRY_SYMBOL));
  ASSERT_NE(entry, nullptr);
  const esdb_sink_plugin* table = entry(ESDB_SINK_ABI_VERSION);
  ASSERT_NE(table, nullptr);
  struct NewerHost {
    esdb_sink_host known;
    void (*added_later)(void* ctx);
  };
  TempDir dir;
  for (bool newer : {false, true}) {
    NewerHost host{};
    host.known.struct_size =
        newer ? sizeof(NewerHost) : ESDB_FIELD_END(esdb_sink_host, connector_id);
    host.known.abi_version = newer ? ESDB_SINK_ABI_VERSION + 1 : 1;
    host.known.connector_id = newer ? "newer-host" : "older-host";
    host.added_later = [](void*) { std::abort(); };
    const std::string path = dir.File(host.known.connector_id);
    esdb_sink_kv kv{"path", path.c_str()};
    esdb_sink_instance* instance = nullptr;
    char err[256] = "";
    ASSERT_EQ(table->open(&kv, 1, &host.known, &instance, err, sizeof err), ESDB_SINK_OK) << err;
    table->close(instance);
    // The plugin read the connector id the host table carries.
    EXPECT_EQ(testing::ReadFile(path),
              std::string("test-c-sink output of connector ") + host.known.connector_id + "\n");
  }
}

}  // namespace
}  // namespace esdb
