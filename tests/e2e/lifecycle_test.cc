// A connector's whole lifecycle through the management API of a real dev node: each step is
// checked both in what the file sink wrote and in GET /connectors/{id}.
#include <filesystem>
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

using ::testing::HasSubstr;

constexpr char kStream[] = "orders-1";
// Only the test's stream, so the connector's own bookkeeping never shows up in its output.
constexpr char kOrdersFilter[] =
    R"(,"subscription:filter:scope":"stream","subscription:filter:filterType":"prefix",)"
    R"("subscription:filter:expression":"orders-","autocommit:interval":"100")";

class LifecycleTest : public DevnodeTest {
 protected:
  // Appends `events` to kStream and returns the log position of the last one.
  uint64_t Append(const std::vector<NewEvent>& events) {
    Reply r = AppendEvents(http(), kStream, events);
    EXPECT_EQ(r.status, 201) << r.body;
    appended_.insert(appended_.end(), events.begin(), events.end());
    return r.status == 201 ? r.json["position"].get<uint64_t>() : 0;
  }

  std::vector<OutputLine> Lines(const std::filesystem::path& file) {
    auto out = ReadSinkOutput(file);
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return {};
    EXPECT_EQ(out->partial_tail_bytes, 0u) << file;
    return out->lines;
  }

  // Expects `lines` to be exactly appended_[first, first + count), in order.
  void ExpectEvents(const std::vector<OutputLine>& lines, size_t first, size_t count,
                    const std::string& what) {
    ASSERT_EQ(lines.size(), count) << what;
    for (size_t i = 0; i < count; ++i) {
      EXPECT_EQ(lines[i].event_id, appended_[first + i].event_id) << what << " line " << i;
      EXPECT_EQ(lines[i].stream, kStream) << what;
      EXPECT_EQ(lines[i].revision, first + i) << what;
      if (i > 0) EXPECT_GT(lines[i].position, lines[i - 1].position) << what << " line " << i;
    }
  }

  std::vector<OutputLine> Slice(const std::vector<OutputLine>& lines, size_t from, size_t to) {
    if (to > lines.size() || from > to) return {};
    return std::vector<OutputLine>(lines.begin() + from, lines.begin() + to);
  }

  // The checkpointed position GET /connectors/{id} reports (-1 when null or unreadable).
  int64_t PositionOf(const std::string& id) {
    Reply r = http().Connector(id);
    if (r.status != 200 || !r.json.contains("position") || !r.json["position"].is_number()) {
      return -1;
    }
    return r.json["position"].get<int64_t>();
  }

  // Waits until the witness connector (always running, same filter) has delivered `lines`
  // records: events appended before then have had their chance to reach any running connector.
  void WitnessCatchesUp(size_t lines) { ASSERT_TRUE(WaitForLines(Path("witness.jsonl"), lines)); }

  std::vector<NewEvent> appended_;
};

TEST_F(LifecycleTest, CreateInspectDisableEnableResetReconfigureDelete) {
  const auto a = Path("a.jsonl");
  const auto b = Path("b.jsonl");
  const uint64_t p20 = Append(MakeEvents(1, 0, 20));

  // A witness that runs throughout: a barrier for "the other connector would have seen it".
  ASSERT_EQ(http()
                .Post("/connectors/witness", FileSinkSettings(Path("witness.jsonl"), kOrdersFilter))
                .status,
            201);
  ASSERT_EQ(http().Post("/connectors/witness/enable").status, 200);

  // --- create: stored, STOPPED, nothing delivered, the sink never opened.
  Reply created = http().Post("/connectors/orders", FileSinkSettings(a, kOrdersFilter));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["connectorId"], "orders");
  EXPECT_EQ(created.json["state"], "STOPPED");
  Reply inspected = http().Connector("orders");
  ASSERT_EQ(inspected.status, 200) << inspected.body;
  EXPECT_EQ(inspected.json["state"], "STOPPED");
  EXPECT_EQ(inspected.json["instanceTypeName"], "file-sink");
  EXPECT_EQ(inspected.json["settings"]["path"], a.string());
  EXPECT_TRUE(inspected.json["position"].is_null()) << inspected.body;
  EXPECT_TRUE(inspected.json["errorDetails"].is_null()) << inspected.body;
  EXPECT_FALSE(std::filesystem::exists(a));
  Reply list = http().Get("/connectors");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json["total"], 2);

  // --- enable: RUNNING here, every event delivered in order, the checkpoint catches up.
  Reply enabled = http().Post("/connectors/orders/enable");
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  ASSERT_TRUE(WaitForState("orders", "RUNNING"));
  ASSERT_TRUE(WaitForLines(a, 20));
  ExpectEvents(Lines(a), 0, 20, "after enable");
  EXPECT_TRUE(WaitUntil([&] { return PositionOf("orders") >= static_cast<int64_t>(p20); },
                        absl::Seconds(30)))
      << http().Connector("orders").body;
  Reply running = http().Connector("orders");
  EXPECT_EQ(running.json["host"], "devnode");
  EXPECT_EQ(running.json["runningHere"], true);
  EXPECT_TRUE(running.json["errorDetails"].is_null()) << running.body;
  // Transitions a running connector refuses, each a 409 that changes nothing.
  for (const char* path : {"/connectors/orders/enable", "/connectors/orders/reset"}) {
    Reply refused = http().Post(path);
    EXPECT_EQ(refused.status, 409) << path << ": " << refused.body;
    EXPECT_TRUE(refused.IsErrorBody()) << refused.body;
  }
  EXPECT_EQ(http().Delete("/connectors/orders").status, 409);
  EXPECT_EQ(http().StateOf("orders"), "RUNNING");

  // --- disable: STOPPED with a final checkpoint; events appended now are not delivered.
  ASSERT_EQ(http().Post("/connectors/orders/disable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "STOPPED"));
  const int64_t stopped_at = PositionOf("orders");
  EXPECT_GE(stopped_at, static_cast<int64_t>(p20));
  EXPECT_FALSE(http().Connector("orders").json.value("runningHere", true));
  const uint64_t p30 = Append(MakeEvents(1, 20, 10));
  WitnessCatchesUp(30);
  EXPECT_EQ(CountCompleteLines(a), 20u) << "a disabled connector delivered";
  EXPECT_EQ(PositionOf("orders"), stopped_at);

  // --- enable again: resumes after the final checkpoint, so no event twice and none lost.
  ASSERT_EQ(http().Post("/connectors/orders/enable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "RUNNING"));
  ASSERT_TRUE(WaitForLines(a, 30));
  ASSERT_TRUE(WaitUntil([&] { return PositionOf("orders") >= static_cast<int64_t>(p30); },
                        absl::Seconds(30)));
  std::vector<OutputLine> lines = Lines(a);
  ExpectEvents(lines, 0, 30, "after re-enable");

  // --- reset to 0 (stopped first): everything is delivered again, in the same order.
  ASSERT_EQ(http().Post("/connectors/orders/disable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "STOPPED"));
  Reply reset = http().Post("/connectors/orders/reset/0");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(PositionOf("orders"), 0) << http().Connector("orders").body;
  EXPECT_EQ(http().StateOf("orders"), "STOPPED");
  EXPECT_EQ(CountCompleteLines(a), 30u);
  ASSERT_EQ(http().Post("/connectors/orders/enable").status, 200);
  ASSERT_TRUE(WaitForLines(a, 60));
  ASSERT_TRUE(WaitUntil([&] { return PositionOf("orders") >= static_cast<int64_t>(p30); },
                        absl::Seconds(30)));
  lines = Lines(a);
  ExpectEvents(Slice(lines, 30, lines.size()), 0, 30, "after reset to 0");

  // --- reset to a position: delivery restarts after it (the 10th event's position).
  const uint64_t p10 = lines[9].position;
  ASSERT_EQ(http().Post("/connectors/orders/disable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "STOPPED"));
  reset = http().Post(absl::StrCat("/connectors/orders/reset/", p10));
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(PositionOf("orders"), static_cast<int64_t>(p10));
  ASSERT_EQ(http().Post("/connectors/orders/enable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "RUNNING"));
  ASSERT_TRUE(WaitForLines(a, 80));
  ASSERT_TRUE(WaitUntil([&] { return PositionOf("orders") >= static_cast<int64_t>(p30); },
                        absl::Seconds(30)));
  lines = Lines(a);
  ASSERT_EQ(lines.size(), 80u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(lines[60 + i].event_id, appended_[10 + i].event_id) << "after reset to " << p10;
  }
  EXPECT_GT(lines[60].position, p10);

  // --- reconfigure while running: the runner restarts on the new file (it creates it when it
  // opens the sink), and only events after the switch go there.
  Reply put = http().Put(
      "/connectors/orders/settings",
      absl::StrCat(R"({"instanceTypeName":"file-sink","path":")", b.string(),
                   R"(","subscription:initialPosition":"earliest")", kOrdersFilter, "}"));
  ASSERT_EQ(put.status, 200) << put.body;
  Reply settings = http().Get("/connectors/orders/settings");
  ASSERT_EQ(settings.status, 200);
  EXPECT_EQ(settings.json["settings"]["path"], b.string());
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(b); }, absl::Seconds(30)))
      << "the reconfigured connector never opened " << b;
  EXPECT_EQ(http().StateOf("orders"), "RUNNING");
  const uint64_t p35 = Append(MakeEvents(1, 30, 5));
  ASSERT_TRUE(WaitForLines(b, 5));
  WitnessCatchesUp(35);
  ExpectEvents(Lines(b), 30, 5, "new file after reconfigure");
  EXPECT_EQ(CountCompleteLines(a), 80u) << "events after the reconfigure went to the old file";
  EXPECT_TRUE(WaitUntil([&] { return PositionOf("orders") >= static_cast<int64_t>(p35); },
                        absl::Seconds(30)));

  // --- delete: refused while running; once stopped it is gone and delivers nothing more.
  EXPECT_EQ(http().Delete("/connectors/orders").status, 409);
  ASSERT_EQ(http().Post("/connectors/orders/disable").status, 200);
  ASSERT_TRUE(WaitForState("orders", "STOPPED"));
  Reply deleted = http().Delete("/connectors/orders");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  Reply gone = http().Connector("orders");
  EXPECT_EQ(gone.status, 404) << gone.body;
  EXPECT_TRUE(gone.IsErrorBody()) << gone.body;
  EXPECT_EQ(http().Post("/connectors/orders/enable").status, 404);
  list = http().Get("/connectors");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json["total"], 1) << list.body;
  EXPECT_EQ(list.json["items"][0]["connectorId"], "witness");
  Append(MakeEvents(1, 35, 5));
  WitnessCatchesUp(40);
  EXPECT_EQ(CountCompleteLines(b), 5u) << "a deleted connector delivered";
  EXPECT_EQ(CountCompleteLines(a), 80u);
}

TEST_F(LifecycleTest, FailedConnectorShowsErrorDetailsAndRecoversAfterReconfigure) {
  // The folder does not exist, so the file sink cannot open its file: FAILED with the reason.
  const auto missing = Path("no-such-folder") / "out.jsonl";
  ASSERT_EQ(http().Post("/connectors/broken", FileSinkSettings(missing, kOrdersFilter)).status,
            201);
  ASSERT_EQ(http().Post("/connectors/broken/enable").status, 200);
  ASSERT_TRUE(WaitForState("broken", "FAILED"));
  Reply failed = http().Connector("broken");
  ASSERT_TRUE(failed.json["errorDetails"].is_object()) << failed.body;
  EXPECT_THAT(failed.json["errorDetails"].value("message", ""), HasSubstr("no-such-folder"));
  EXPECT_FALSE(failed.json["errorDetails"].value("time", "").empty()) << failed.body;
  EXPECT_EQ(failed.json["runningHere"], false);
  Reply listed = http().Get("/connectors?state=FAILED");
  EXPECT_EQ(listed.json["total"], 1) << listed.body;

  // Point it at a usable file and enable it: RUNNING, the error cleared, events delivered.
  const auto fixed = Path("fixed.jsonl");
  ASSERT_EQ(http()
                .Put("/connectors/broken/settings",
                     absl::StrCat(R"({"settings":{"instanceTypeName":"file-sink","path":")",
                                  fixed.string(), R"(","subscription:initialPosition":"earliest")",
                                  kOrdersFilter, "}}"))
                .status,
            200);
  ASSERT_EQ(http().Post("/connectors/broken/enable").status, 200);
  ASSERT_TRUE(WaitForState("broken", "RUNNING"));
  EXPECT_TRUE(http().Connector("broken").json["errorDetails"].is_null());
  Append(MakeEvents(2, 0, 3));
  ASSERT_TRUE(WaitForLines(fixed, 3));
  ExpectEvents(Lines(fixed), 0, 3, "after recovery");
  EXPECT_FALSE(std::filesystem::exists(missing));
}

}  // namespace
}  // namespace esdb::e2e
