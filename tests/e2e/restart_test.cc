// Clean restarts of a real dev node (SIGTERM, then start again on the same log and port): a
// running connector comes back by itself, keeps its settings and resumes exactly after its
// final checkpoint.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "sink_output.h"

namespace esdb::e2e {
namespace {


constexpr char kStream[] = "orders-1";

class RestartTest : public DevnodeTest {
 protected:
  void Append(uint64_t first, int count) {
    std::vector<NewEvent> events = MakeEvents(7, first, count);
    Reply r = AppendEvents(http(), kStream, events);
    ASSERT_EQ(r.status, 201) << r.body;
    appended_.insert(appended_.end(), events.begin(), events.end());
  }

  // The output must be every appended event exactly once, in order.
  void ExpectExactlyOnceInOrder(const std::filesystem::path& file, const std::string& when) {
    auto out = ReadSinkOutput(file);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->partial_tail_bytes, 0u);
    ASSERT_EQ(out->lines.size(), appended_.size())
        << when << ": a replay after a clean stop, or a lost event";
    for (size_t i = 0; i < appended_.size(); ++i) {
      EXPECT_EQ(out->lines[i].event_id, appended_[i].event_id) << when << " line " << i;
      EXPECT_EQ(out->lines[i].revision, i) << when;
    }
  }

  bool RunningHere(const std::string& id) {
    Reply r = http().Connector(id);
    return r.status == 200 && r.json.value("state", "") == "RUNNING" &&
           r.json.value("runningHere", false);
  }

  std::vector<NewEvent> appended_;
};

TEST_F(RestartTest, RunningConnectorResumesFromItsCheckpointAndKeepsItsSettings) {
  const auto out = Path("out.jsonl");
  // No record-count or timed checkpoints: only the pinned start and the final checkpoint of a
  // clean stop exist, so a restart that ignored the final one would replay everything.
  const std::string extra =
      R"(,"subscription:filter:scope":"stream","subscription:filter:filterType":"prefix",)"
      R"("subscription:filter:expression":"orders-","autocommit:recordsThreshold":"1000000",)"
      R"("autocommit:interval":"3600000","fsync":"true")";
  ASSERT_NO_FATAL_FAILURE(Append(0, 50));
  ASSERT_EQ(http().Post("/connectors/orders", FileSinkSettings(out, extra)).status, 201);
  ASSERT_EQ(http().Post("/connectors/idle", R"({"instanceTypeName":"null-sink"})").status, 201);
  ASSERT_EQ(http().Post("/connectors/orders/enable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "RUNNING"));
  ASSERT_TRUE(WaitForLines(out, 50));
  Reply before = http().Get("/connectors/orders/settings");
  ASSERT_EQ(before.status, 200);
  const uint16_t port = node().port();

  for (int restart = 1; restart <= 2; ++restart) {
    const std::string when = absl::StrCat("after restart ", restart);
    ASSERT_NO_FATAL_FAILURE(StopNode());
    ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnceInOrder(out, "after the clean stop"));
    ASSERT_NO_FATAL_FAILURE(StartNode());
    EXPECT_EQ(node().port(), port);

    // Back by itself, with the same settings; the never-enabled one stays stopped.
    EXPECT_TRUE(WaitUntil([&] { return RunningHere("orders"); }, absl::Seconds(30)))
        << when << ": " << http().Connector("orders").body;
    Reply after = http().Get("/connectors/orders/settings");
    ASSERT_EQ(after.status, 200);
    EXPECT_EQ(after.json["settings"], before.json["settings"]) << when;
    EXPECT_EQ(after.json["settingsUpdateTime"], before.json["settingsUpdateTime"]) << when;
    EXPECT_EQ(http().StateOf("idle"), "STOPPED") << when;
    EXPECT_TRUE(http().Connector("orders").json["errorDetails"].is_null());

    // New events are delivered after the old ones, each exactly once.
    ASSERT_NO_FATAL_FAILURE(Append(appended_.size(), 30));
    ASSERT_TRUE(WaitForLines(out, appended_.size()));
    ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnceInOrder(out, when));
  }
  // Once more through NodeProcess::Restart (clean stop, same folder and port, wait ready).
  http_.reset();
  absl::Status restarted = node().Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  http_ = std::make_unique<NodeHttp>(node().port());
  EXPECT_EQ(node().port(), port);
  EXPECT_TRUE(WaitUntil([&] { return RunningHere("orders"); }, absl::Seconds(30)));
  ASSERT_NO_FATAL_FAILURE(Append(appended_.size(), 10));
  ASSERT_TRUE(WaitForLines(out, appended_.size()));
  ASSERT_NO_FATAL_FAILURE(StopNode());
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnceInOrder(out, "at the end"));
}

// The node loads plugins from private copies: a plugin file overwritten in place (as `cp` does)
// while the node runs changes nothing for the running code, and the node still stops cleanly
// (loaded in place, it would die of SIGBUS or run the new bytes). The next start loads the new
// file, here garbage, and says so in GET /connector-plugins.
TEST_F(RestartTest, APluginFileOverwrittenWhileTheNodeRunsChangesNothingUntilTheNextStart) {
  const auto plugins = Path("plugins");
  std::filesystem::create_directories(plugins);
  const auto file_plugin = plugins / "libesdb_sink_file.so";
  std::filesystem::copy_file(std::filesystem::path(PluginDir()) / "libesdb_sink_file.so",
                             file_plugin);
  ASSERT_NO_FATAL_FAILURE(StopNode());
  NodeOptions options;
  options.data_dir = Path("node");
  options.extra_args = {"--plugins-dir", plugins.string()};
  node_ = std::make_unique<NodeProcess>(options);
  ASSERT_NO_FATAL_FAILURE(StartNode());

  const auto out = Path("out.jsonl");
  ASSERT_EQ(http().Post("/connectors/orders", FileSinkSettings(out)).status, 201);
  ASSERT_EQ(http().Post("/connectors/orders/enable").status, 200);
  ASSERT_NO_FATAL_FAILURE(Append(0, 20));
  ASSERT_TRUE(WaitForLines(out, 20));

  const auto size = std::filesystem::file_size(file_plugin);
  {
    std::ofstream rewrite(file_plugin, std::ios::binary | std::ios::trunc);  // same inode
    rewrite << std::string(size / 3, '\xcc');
  }
  ASSERT_NO_FATAL_FAILURE(Append(20, 20));
  ASSERT_TRUE(WaitForLines(out, 40));
  ASSERT_NO_FATAL_FAILURE(StopNode());  // exit code 0, not a crash
  ASSERT_NO_FATAL_FAILURE(ExpectExactlyOnceInOrder(out, "before the restart"));

  ASSERT_NO_FATAL_FAILURE(StartNode());
  Reply listed = http().Get("/connector-plugins");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json.size(), 2u) << listed.body;  // the host's own entry, then the file
  EXPECT_EQ(listed.json[0].value("kind", ""), "host");
  EXPECT_EQ(listed.json[1].value("loaded", true), false) << listed.body;
  EXPECT_EQ(listed.json[1].value("file", ""), file_plugin.string());
  EXPECT_THAT(listed.json[1].value("error", ""),
              ::testing::HasSubstr("is not a loadable shared object"));
  EXPECT_TRUE(WaitForState("orders", "FAILED"));
  EXPECT_THAT(http().Connector("orders").body, ::testing::HasSubstr("no sink plugin named"));
}

}  // namespace
}  // namespace esdb::e2e
