// The supervisor under a hung sink: one connector's plugin never completes a write. Its host
// keeps heartbeating, and a shutdown stops the hundred other connectors at once, each with its
// final checkpoint, without waiting for the hung one; the hung one is given up after the stop
// timeout.
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "delivery/checkpoints.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"
#include "library/library.h"

namespace esdb {
namespace {

constexpr int kConnectors = 100;

// Polls `done` for up to 20 s: stream contents and metrics are state, not events to wait on.
bool PollUntil(const std::function<bool()>& done) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The null sink and the test-only testkit sink, side by side in one plugin folder.
    plugins_ =
        std::filesystem::path(::testing::TempDir()) / absl::StrCat("supervisor-plugins-", getpid());
    std::filesystem::create_directories(plugins_);
    for (auto [dir, name] : {std::pair{ESDB_PLUGIN_DIR, "libesdb_sink_null.so"},
                             std::pair{ESDB_TESTDATA_PLUGIN_DIR, "libesdb_sink_testkit.so"}}) {
      std::filesystem::remove(plugins_ / name);
      std::filesystem::create_symlink(std::filesystem::path(dir) / name, plugins_ / name);
    }
  }
  void TearDown() override { std::filesystem::remove_all(plugins_); }

  int Call(const std::string& method, const std::string& path, const std::string& body = "") {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.content_type = body.empty() ? "" : "application/json";
    r.body = body;
    r.caller.kind = Caller::Kind::kInsecure;
    return library_->api().Handle(r).status;
  }

  // Revision of the last heartbeat (-1 when none).
  int64_t HeartbeatRevision() {
    int64_t revision = -1;
    (void)client_.ReadStream("$connectors-hosts", Direction::kBackwards, ESDB_REVISION_END, 1,
                             [&](const Record& r) {
                               revision = static_cast<int64_t>(r.revision);
                               return false;
                             });
    return revision;
  }

  std::optional<Position> CheckpointOf(const std::string& id) {
    CheckpointStore store(&client_, id, 0, "reader");
    auto c = store.Load();
    return c.ok() && *c ? std::optional<Position>((*c)->position) : std::nullopt;
  }

  std::filesystem::path plugins_;
  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
  std::unique_ptr<Library> library_;
};

TEST_F(SupervisorTest, AHungSinkDelaysNeitherTheHeartbeatNorTheStopOfOthers) {
  LibraryConfig config;
  config.plugins_dir = plugins_.string();
  config.lease_ms = 600;          // a heartbeat every 200 ms
  config.stop_timeout_ms = 4000;  // how long the hung connector holds up the shutdown
  auto lib = Library::Start(node_->api(), config);
  ASSERT_TRUE(lib.ok()) << lib.status();
  library_ = std::move(*lib);

  std::vector<EventData> events(20);
  for (EventData& e : events) {
    e.event_type = "Placed";
    e.data = "{}";
  }
  auto appended = client_.Append("orders-1", ESDB_EXPECT_ANY, events);
  ASSERT_TRUE(appended.ok());
  Position last = appended->position;

  ASSERT_EQ(Call("POST", "/connectors/hung",
                 R"({"instanceTypeName":"testkit-sink","target":"x","mode":"never",)"
                 R"("subscription:initialPosition":"earliest"})"),
            201);
  ASSERT_EQ(Call("POST", "/connectors/hung/enable"), 200);
  // With autocommit off, the only checkpoints are the claim at start and the final one.
  for (int i = 0; i < kConnectors; ++i) {
    std::string id = absl::StrCat("c", i);
    ASSERT_EQ(Call("POST", "/connectors/" + id,
                   R"({"instanceTypeName":"null-sink","autocommit:enabled":"false",)"
                   R"("subscription:initialPosition":"earliest"})"),
              201);
    ASSERT_EQ(Call("POST", "/connectors/" + id + "/enable"), 200);
  }
  ASSERT_TRUE(PollUntil([&] {
    std::string metrics = library_->api().RenderMetrics();
    for (int i = 0; i < kConnectors; ++i) {
      if (metrics.find(absl::StrCat("esdb_connector_records_delivered_total{connector=\"c", i,
                                    "\"} 20")) == std::string::npos) {
        return false;
      }
    }
    return true;
  }));

  // The hung write holds one sink-call thread; the heartbeat goes on.
  int64_t beats = HeartbeatRevision();
  ASSERT_TRUE(PollUntil([&] { return HeartbeatRevision() >= beats + 3; }));

  // Shutdown, as on SIGTERM: every runner is asked at once. The others end with their final
  // checkpoints while the hung one still holds the shutdown up, and heartbeats go on meanwhile.
  absl::Time t0 = absl::Now();
  std::atomic<bool> stopped{false};
  std::thread stop([&] {
    library_.reset();
    stopped = true;
  });
  beats = HeartbeatRevision();
  bool checkpointed = PollUntil([&] {
    for (int i = 0; i < kConnectors; ++i) {
      auto cp = CheckpointOf(absl::StrCat("c", i));
      if (!cp || *cp < last) return false;
    }
    return true;
  });
  bool during_stop = !stopped.load();
  bool beating = PollUntil([&] { return HeartbeatRevision() >= beats + 3; }) && !stopped.load();
  stop.join();
  absl::Duration took = absl::Now() - t0;
  EXPECT_TRUE(checkpointed);
  EXPECT_TRUE(during_stop) << "the others' final checkpoints came only after the shutdown";
  EXPECT_TRUE(beating) << "no heartbeats while the runners stopped";
  // The hung one was given up after the stop timeout, and without a final checkpoint.
  EXPECT_GE(took, absl::Milliseconds(4000));
  EXPECT_LT(took, absl::Seconds(15));
  auto hung = CheckpointOf("hung");
  ASSERT_TRUE(hung.has_value());
  EXPECT_LT(*hung, last);
}

}  // namespace
}  // namespace esdb
