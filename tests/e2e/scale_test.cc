// Facts that must hold however many connectors a host runs (docs/performance.md, "Scale"):
// idle connectors write nothing (the log grows by the hosts' heartbeats only) and show no lag, and
// one connector whose sink hangs holds up neither the host's heartbeat (its lease) nor the stop of
// the other connectors. No figure here is a performance target; bench/scale measures those.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "streams.grpc.pb.h"

namespace esdb::e2e {
namespace {

using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kHostsStream[] = "$connectors-hosts";

struct LoggedEvent {
  uint64_t position = 0;
  std::string stream;
  std::string type;
};

class ScaleTest : public DevnodeTest {
 protected:
  // Creates and enables a connector with these settings.
  void CreateAndEnable(const std::string& id, const json& settings) {
    Reply created = http().Post("/connectors/" + id, json{{"settings", settings}}.dump());
    ASSERT_EQ(created.status, 201) << id << ": " << created.body;
    Reply enabled = http().Post("/connectors/" + id + "/enable");
    ASSERT_EQ(enabled.status, 200) << id << ": " << enabled.body;
  }

  // Every connector, from as many pages of GET /connectors as it takes.
  std::vector<json> ListAll() {
    std::vector<json> all;
    for (size_t skip = 0;; skip += 1000) {
      Reply r = http().Get(absl::StrCat("/connectors?take=1000&skip=", skip));
      if (r.status != 200 || !r.json.contains("items")) {
        ADD_FAILURE() << "GET /connectors: " << r.status << " " << r.body;
        return all;
      }
      for (const json& item : r.json["items"]) all.push_back(item);
      if (r.json["items"].size() < 1000) return all;
    }
  }

  // Waits until `count` connectors report `state`; adds a failure saying how far it got if not.
  bool WaitForCount(size_t count, const std::string& state, absl::Duration timeout) {
    size_t seen = 0;
    bool ok = WaitUntil(
        [&] {
          Reply r = http().Get("/connectors?take=1&state=" + state);
          seen = r.status == 200 ? r.json.value("total", size_t{0}) : 0;
          return seen >= count;
        },
        timeout, absl::Milliseconds(200));
    if (!ok) {
      ADD_FAILURE() << seen << " of " << count << " connectors " << state << " after "
                    << absl::FormatDuration(timeout);
    }
    return ok;
  }

  uint64_t LastPosition() {
    Reply r = http().Get("/info");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.is_object() ? r.json.value("lastPosition", uint64_t{0}) : 0;
  }

  // The events of $all after position `after` up to `to` (inclusive), over gRPC as a client
  // reads them.
  std::vector<LoggedEvent> ReadAll(uint64_t after, uint64_t to) {
    std::vector<LoggedEvent> out;
    if (to <= after) return out;
    auto stub = Streams::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", node().grpc_port()),
                                                     grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ReadReq req;
    auto* o = req.mutable_options();
    o->mutable_all()->mutable_position()->set_commit_position(after + 1);
    o->mutable_all()->mutable_position()->set_prepare_position(after + 1);
    o->set_count(to - after);
    o->mutable_no_filter();
    o->mutable_uuid_option()->mutable_string();
    auto reader = stub->Read(&context, req);
    ReadResp resp;
    while (reader->Read(&resp)) {
      if (!resp.has_event()) continue;
      const auto& e = resp.event().event();
      if (e.commit_position() <= after || e.commit_position() > to) continue;
      auto type = e.metadata().find("type");
      out.push_back({e.commit_position(), e.stream_identifier().stream_name(),
                     type == e.metadata().end() ? "" : type->second});
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return out;
  }

  // The hosts' heartbeats appended after `after`, oldest first, read over HTTP.
  std::vector<json> HeartbeatsAfter(uint64_t after) {
    Reply r = http().Get(
        absl::StrCat("/streams/", kHostsStream, "?from=end&direction=backwards&count=4096"));
    std::vector<json> out;
    if (r.status != 200 || !r.json.contains("events")) return out;
    for (const json& e : r.json["events"]) {
      if (e.value("position", uint64_t{0}) > after) out.insert(out.begin(), e);
    }
    return out;
  }
};

// "{stream kind}: count, ..." for a failure message: connector ids folded into "*".
std::string Summary(const std::vector<LoggedEvent>& events) {
  std::map<std::string, int> kinds;
  for (const LoggedEvent& e : events) {
    std::string kind = e.stream;
    if (kind.rfind("$connectors/", 0) == 0) {
      size_t slash = kind.find('/', 12);
      kind = slash == std::string::npos ? "$connectors/*" : "$connectors/*" + kind.substr(slash);
    }
    ++kinds[absl::StrCat(kind, " (", e.type, ")")];
  }
  std::vector<std::string> parts;
  for (const auto& kv : kinds) parts.push_back(absl::StrCat(kv.first, ": ", kv.second));
  return absl::StrJoin(parts, ", ");
}

absl::Time CreatedOf(const json& event) {
  absl::Time t;
  std::string err;
  std::string text = event.value("created", std::string());
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << text << ": " << err;
  return t;
}

TEST_F(ScaleTest, IdleConnectorsAppendOnlyHeartbeatsAndShowNoLag) {
  constexpr int kConnectors = 200;
  for (int i = 0; i < kConnectors; ++i) {
    // Half with a prefix filter that matches nothing, half with none (every user stream).
    json settings = {{"instanceTypeName", "null-sink"}};
    if (i % 2 == 0) {
      settings["subscription:filter:filterType"] = "prefix";
      settings["subscription:filter:expression"] = absl::StrCat("idle-", i, "-");
    }
    ASSERT_NO_FATAL_FAILURE(CreateAndEnable(absl::StrCat("idle-", i), settings));
  }
  ASSERT_TRUE(WaitForCount(kConnectors, "RUNNING", absl::Minutes(3)));

  // Idle and caught up: every connector's lag is 0.
  std::vector<json> lagging;
  bool caught_up = WaitUntil(
      [&] {
        lagging.clear();
        for (const json& c : ListAll()) {
          if (c.value("lag", json()) != json(0)) lagging.push_back(c);
        }
        return lagging.empty();
      },
      absl::Seconds(60), absl::Milliseconds(500));
  EXPECT_TRUE(caught_up) << lagging.size() << " of " << kConnectors
                         << " connectors have a lag; the first: "
                         << (lagging.empty() ? "" : lagging.front().dump());

  // Five seconds of idleness: whatever the log gained is the hosts' heartbeats.
  const uint64_t before = LastPosition();
  absl::SleepFor(absl::Seconds(5));  // the observation window, not a wait for an effect
  const uint64_t after = LastPosition();
  std::vector<LoggedEvent> appended = ReadAll(before, after);
  if (after > before) {
    ASSERT_FALSE(appended.empty()) << "$all from " << before << " to " << after << " read empty";
    EXPECT_EQ(appended.back().position, after);
  }
  std::vector<LoggedEvent> others;
  for (const LoggedEvent& e : appended) {
    if (e.stream != kHostsStream) others.push_back(e);
  }
  EXPECT_TRUE(others.empty()) << others.size() << " of the " << appended.size()
                              << " events appended in 5 s are not heartbeats: "
                              << Summary(appended);

  // Still no lag after the window (heartbeats included).
  EXPECT_TRUE(WaitUntil(
      [&] {
        lagging.clear();
        for (const json& c : ListAll()) {
          if (c.value("lag", json()) != json(0)) lagging.push_back(c);
        }
        return lagging.empty();
      },
      absl::Seconds(30), absl::Milliseconds(500)))
      << lagging.size() << " connectors have a lag after the idle window; the first: "
      << (lagging.empty() ? "" : lagging.front().dump());
}

// A node whose plugins are the test plugins, for testkit-sink.
class HungSinkTest : public ScaleTest {
 protected:
  std::vector<std::string> ExtraNodeArgs() const override {
    return {"--plugins-dir", ESDB_TESTDATA_PLUGIN_DIR};
  }

  // One connector whose sink hangs in testkit-sink `mode` among kOthers that work.
  void CheckHungSink(const std::string& mode);
};

void HungSinkTest::CheckHungSink(const std::string& mode) {
  constexpr int kOthers = 20;
  ASSERT_NO_FATAL_FAILURE(CreateAndEnable("hung", {{"instanceTypeName", "testkit-sink"},
                                                   {"target", "t"},
                                                   {"mode", mode},
                                                   {"subscription:filter:filterType", "prefix"},
                                                   {"subscription:filter:expression", "hung-"}}));
  for (int i = 0; i < kOthers; ++i) {
    ASSERT_NO_FATAL_FAILURE(CreateAndEnable(
        absl::StrCat("other-", i), {{"instanceTypeName", "testkit-sink"}, {"target", "t"}}));
  }
  ASSERT_TRUE(WaitForCount(kOthers + 1, "RUNNING", absl::Minutes(2)));
  const std::string host = http().Connector("hung").json.value("host", std::string());
  ASSERT_FALSE(host.empty()) << http().Connector("hung").body;

  // One event for the hung connector (and the others, which have no filter); its sink then hangs.
  Reply appended = AppendEvents(http(), "hung-1", MakeEvents(1, 0, 1));
  ASSERT_EQ(appended.status, 201) << appended.body;
  const uint64_t event_position = appended.json.value("position", uint64_t{0});
  const std::string says = mode == "hang" ? "write blocks for ever" : "write never completes";
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(node().Logs(), says); }, absl::Seconds(30),
                        absl::Milliseconds(100)))
      << "the sink never said '" << says << "'";
  const uint64_t hung_at = LastPosition();

  // The lease is kept: heartbeats go on, never further apart than the lease they announce.
  std::vector<json> beats;
  ASSERT_TRUE(WaitUntil([&] { return (beats = HeartbeatsAfter(hung_at)).size() >= 4; },
                        absl::Seconds(90), absl::Milliseconds(200)))
      << beats.size() << " heartbeats after the sink hung";
  Reply recent = http().Get(
      absl::StrCat("/streams/", kHostsStream, "?from=end&direction=backwards&count=4096"));
  ASSERT_EQ(recent.status, 200) << recent.body;
  // The last heartbeat before the hang, then those after it.
  for (const json& e : recent.json["events"]) {
    if (e.value("position", uint64_t{0}) <= hung_at) {
      beats.insert(beats.begin(), e);
      break;
    }
  }
  for (size_t i = 1; i < beats.size(); ++i) {
    const json& data = beats[i]["data"];
    ASSERT_TRUE(data.is_object()) << beats[i].dump();
    EXPECT_EQ(data.value("host", std::string()), host)
        << "another host heartbeats: " << beats[i].dump();
    const absl::Duration lease = absl::Milliseconds(data.value("leaseMs", int64_t{0}));
    const absl::Duration gap = CreatedOf(beats[i]) - CreatedOf(beats[i - 1]);
    EXPECT_LT(gap, lease) << "heartbeats " << beats[i - 1].dump() << " and " << beats[i].dump();
  }

  // Nobody took over: every connector still runs here, the hung one included.
  for (const json& c : ListAll()) {
    EXPECT_EQ(c.value("state", std::string()), "RUNNING") << c.dump();
    EXPECT_EQ(c.value("host", json()), json(host)) << c.dump();
  }
  // And its sink really never acknowledged the event.
  Reply hung = http().Connector("hung");
  const json position = hung.json.value("position", json());
  EXPECT_TRUE(position.is_null() || position.get<uint64_t>() < event_position) << hung.body;

  // The others stop while the hung sink still hangs.
  for (int i = 0; i < kOthers; ++i) {
    Reply r = http().Post(absl::StrCat("/connectors/other-", i, "/disable"));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  EXPECT_TRUE(WaitForCount(kOthers, "STOPPED", absl::Seconds(60)));
  EXPECT_EQ(http().StateOf("hung"), "RUNNING");

  // A sink that never returns cannot be closed, so no clean shutdown is expected here.
  http_.reset();
  ASSERT_TRUE(node().Kill().ok());
}

// write() returns but its completion never comes.
TEST_F(HungSinkTest, CompletionThatNeverComesDelaysNeitherHeartbeatsNorOtherStops) {
  CheckHungSink("never");
}

// write() itself never returns, as a blocking call to a dead disk or peer would not.
TEST_F(HungSinkTest, WriteThatNeverReturnsDelaysNeitherHeartbeatsNorOtherStops) {
  CheckHungSink("hang");
}

}  // namespace
}  // namespace esdb::e2e
