// Hostile input against a real dev node, one class of input per test: each used to crash, hang or
// mislead the node, and each test ends by checking that the node is alive and still does work.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "sink_output.h"
#include "streams.grpc.pb.h"

namespace esdb::e2e {
namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;
using ::testing::HasSubstr;

constexpr char kEventsJson[] = "application/vnd.eventstore.events+json";

// `depth` nested groups around one 'a': std::regex recursed once per group.
std::string NestedGroups(size_t depth) {
  return std::string(depth, '(') + "a" + std::string(depth, ')');
}

// Settings nested `depth` objects deep, 6 bytes a level.
std::string NestedSettings(size_t depth) {
  std::string s = R"({"settings":)";
  for (size_t i = 0; i < depth; ++i) s += R"({"a":)";
  s += "1";
  s += std::string(depth + 1, '}');
  return s;
}

// Resident memory of `pid` in KiB (VmRSS), 0 when unreadable.
uint64_t RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t kib = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
  }
  return 0;
}

class HostileInputTest : public DevnodeTest {
 protected:
  // Alive and doing real work: an append and a read of the same event.
  void ExpectWorking() {
    ASSERT_TRUE(node().running());
    Reply live = http().Get("/health/live");
    ASSERT_EQ(live.status, 204) << live.body;
    Reply appended = AppendEvents(http(), "alive-check", MakeEvents(99, checks_++, 1));
    ASSERT_EQ(appended.status, 201) << appended.body;
    Reply read = http().Get("/streams/alive-check");
    ASSERT_EQ(read.status, 200) << read.body;
  }

  Reply CreateConnector(const std::string& id, const std::string& settings_json) {
    return http().Post("/connectors/" + id, settings_json);
  }

  // file-sink settings delivering from the start, filtered by a stream-id regex.
  std::string RegexFileSink(const std::filesystem::path& out, const std::string& regex) {
    nlohmann::json extra = {{"subscription:filter:filterType", "regex"},
                            {"subscription:filter:expression", regex}};
    std::string tail = extra.dump();  // {"k":"v",...}: spliced in without its braces
    return FileSinkSettings(out, "," + tail.substr(1, tail.size() - 2));
  }

  std::unique_ptr<Streams::Stub> GrpcStreams() {
    return Streams::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", node().grpc_port()),
                                                grpc::InsecureChannelCredentials()));
  }

  // Appends one event over gRPC, as any client may.
  grpc::Status GrpcAppend(const std::string& stream, const std::string& data) {
    auto stub = GrpcStreams();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    AppendResp resp;
    auto writer = stub->Append(&context, &resp);
    AppendReq options;
    options.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
    options.mutable_options()->mutable_any();
    AppendReq event;
    auto* m = event.mutable_proposed_message();
    m->mutable_id()->set_string("4c2bd2b3-5cf8-4c57-9b5c-4b7f2e1b3a01");
    (*m->mutable_metadata())["type"] = "Deep";
    (*m->mutable_metadata())["content-type"] = "application/json";
    m->set_data(data);
    writer->Write(options);
    writer->Write(event);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (s.ok() && resp.has_wrong_expected_version()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "wrong expected version");
    }
    return s;
  }

  uint64_t checks_ = 0;
};

TEST_F(HostileInputTest, DeeplyNestedSettingsAreRefusedAndCostNoMemory) {
  // 40,000 levels overflowed the stack while flattening; 20,000 kept ~420 MB after the 400.
  for (size_t depth : {40000u, 20000u}) {
    uint64_t before = RssKib(node().pid());
    for (int i = 0; i < 5; ++i) {
      Reply r = CreateConnector("deep", NestedSettings(depth));
      ASSERT_EQ(r.status, 400) << r.body.substr(0, 300);
      EXPECT_THAT(r.body, HasSubstr("nested more than")) << r.body.substr(0, 300);
    }
    uint64_t after = RssKib(node().pid());
    ASSERT_GT(before, 0u);
    EXPECT_LT(after, before + 50 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
  }
  EXPECT_EQ(http().Connector("deep").status, 404);
  ExpectWorking();
}

TEST_F(HostileInputTest, DeeplyNestedRegexFiltersNeitherCrashTheNodeNorLoop) {
  // 30,000 nested groups killed the node at create. Now either refused or compiled: never fatal.
  Reply huge = CreateConnector("huge", RegexFileSink(Path("huge.jsonl"), NestedGroups(30000)));
  EXPECT_TRUE(huge.status == 201 || huge.status == 400) << huge.body.substr(0, 300);
  ExpectWorking();

  // 20,000 were accepted and then killed the node at enable and at every restart after it.
  const auto out = Path("nested.jsonl");
  Reply created = CreateConnector("nested", RegexFileSink(out, NestedGroups(20000)));
  ASSERT_EQ(created.status, 201) << created.body.substr(0, 300);
  ASSERT_EQ(http().Post("/connectors/nested/enable").status, 200);
  ASSERT_EQ(AppendEvents(http(), "xay", MakeEvents(1, 0, 1)).status, 201);
  ASSERT_TRUE(WaitForState("nested", "RUNNING"));
  ASSERT_TRUE(WaitForLines(out, 1));  // it filters, and the match is delivered
  for (int restart = 0; restart < 2; ++restart) {
    StopNode();
    StartNode();
    ASSERT_TRUE(WaitForState("nested", "RUNNING"));
    ExpectWorking();
  }
}

TEST_F(HostileInputTest, BacktrackingRegexMatchesInLinearTime) {
  // (a+)+$ against 'a' x 33 + '!' kept a connector at 100 % of a core for minutes, and neither
  // disable nor SIGINT could stop it. Here the non-matching stream goes first, and the matching
  // event after it must arrive without delay; the fixture's clean SIGTERM stop checks the rest.
  const auto out = Path("backtrack.jsonl");
  ASSERT_EQ(CreateConnector("backtrack", RegexFileSink(out, "^(a+)+$")).status, 201);
  ASSERT_EQ(http().Post("/connectors/backtrack/enable").status, 200);
  ASSERT_EQ(AppendEvents(http(), std::string(33, 'a') + "!", MakeEvents(2, 0, 1)).status, 201);
  ASSERT_EQ(AppendEvents(http(), std::string(40, 'a'), MakeEvents(2, 1, 1)).status, 201);
  ASSERT_TRUE(WaitForLines(out, 1));
  auto lines = ReadSinkOutput(out);
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_EQ(lines->lines.size(), 1u);
  EXPECT_EQ(lines->lines[0].event_id, TestEventId(2, 1));
  ASSERT_EQ(http().Post("/connectors/backtrack/disable").status, 200);
  ASSERT_TRUE(WaitForState("backtrack", "STOPPED"));
  ExpectWorking();
}

TEST_F(HostileInputTest, FilteredGrpcReadsWithHostileRegexesAreSafe) {
  ASSERT_EQ(AppendEvents(http(), std::string(33, 'a') + "!", MakeEvents(3, 0, 1)).status, 201);
  for (const std::string& regex : {NestedGroups(20000), NestedGroups(30000),
                                   std::string("^(a+)+$"), std::string(R"((a)\1)")}) {
    auto stub = GrpcStreams();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ReadReq req;
    auto* o = req.mutable_options();
    o->mutable_all()->mutable_start();
    o->set_count(100);
    o->mutable_filter()->mutable_stream_identifier()->set_regex(regex);
    o->mutable_filter()->set_max(100);
    o->mutable_uuid_option()->mutable_string();
    auto reader = stub->Read(&context, req);
    ReadResp resp;
    while (reader->Read(&resp)) {
    }
    grpc::Status s = reader->Finish();
    // Answered (found nothing, or refused what RE2 cannot take) well before the deadline.
    EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_code() << " " << s.error_message().substr(0, 200);
    ExpectWorking();
  }
}

TEST_F(HostileInputTest, DeeplyNestedEventDataIsRefusedOverHttpAndServedSafely) {
  const std::string deep(100000, '[');
  const std::string deep_doc = deep + std::string(100000, ']');
  // Over HTTP the node has to look into the body: refused.
  Reply r = http().Call("POST", "/streams/deep",
                        absl::StrCat(R"([{"eventType":"Deep","data":)", deep_doc, "}]"),
                        kEventsJson);
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 300);
  EXPECT_THAT(r.body, HasSubstr("nested more than"));
  Reply single = http().Call("POST", "/streams/deep", deep_doc, "application/json",
                             {{"ES-EventType", "Deep"}});
  EXPECT_EQ(single.status, 400) << single.body.substr(0, 300);
  ExpectWorking();

  // Over gRPC payloads are bytes, stored as they are; reading them over HTTP killed the node.
  grpc::Status appended = GrpcAppend("deep", deep_doc);
  ASSERT_TRUE(appended.ok()) << appended.error_message();
  Reply read = http().Get("/streams/deep");
  ASSERT_EQ(read.status, 200) << read.body.substr(0, 300);
  ASSERT_EQ(read.json["events"].size(), 1u);
  EXPECT_TRUE(read.json["events"][0]["data"].is_string());  // served as base64, not as a tree
  ExpectWorking();
}

TEST_F(HostileInputTest, ControlCharactersInStreamNamesAreRefusedEverywhere) {
  // A newline in a stream name forged a log line through logger-sink, and the append that
  // stored it answered 500.
  Reply http_append = AppendEvents(http(), "a%0AINFO%20forged", MakeEvents(4, 0, 1));
  EXPECT_EQ(http_append.status, 400) << http_append.body;
  EXPECT_THAT(http_append.body, HasSubstr("control character"));
  grpc::Status grpc_append = GrpcAppend("a\nINFO forged", "{}");
  EXPECT_EQ(grpc_append.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << grpc_append.error_message();
  EXPECT_EQ(http().Get("/streams/a%0AINFO%20forged").status, 404);
  ExpectWorking();
}

TEST_F(HostileInputTest, EventTypesWithNewlinesCannotForgeLogLines) {
  // Event types are stored as given, but a sink that logs them cannot split the node's log line.
  ASSERT_EQ(CreateConnector("log", R"({"settings":{"instanceTypeName":"logger-sink",)"
                                   R"("subscription:initialPosition":"earliest",)"
                                   R"("subscription:filter:filterType":"prefix",)"
                                   R"("subscription:filter:expression":"forge-"}})")
                .status,
            201);
  ASSERT_EQ(http().Post("/connectors/log/enable").status, 200);
  nlohmann::json body = nlohmann::json::array(
      {{{"eventId", TestEventId(5, 0)}, {"eventType", "T\nFORGED-LINE"}, {"data", {}}}});
  ASSERT_EQ(http().Call("POST", "/streams/forge-1", body.dump(), kEventsJson).status, 201);
  // The sink escapes it, and so does the host, whatever a sink does.
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(node().Logs(), "FORGED-LINE"); },
                        absl::Seconds(30)))
      << node().Logs();
  for (absl::string_view line : absl::StrSplit(node().Logs(), '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "FORGED-LINE")) << line;
  }
  ExpectWorking();
}

TEST_F(HostileInputTest, ControlCharactersInSettingsAreRefused) {
  // A NUL cut the file name short; any control character in any value or key is refused.
  for (const char* settings :
       {R"({"settings":{"instanceTypeName":"file-sink","path":"/tmp/x\u0000.jsonl"}})",
        R"({"settings":{"instanceTypeName":"file-sink","path":"/tmp/x\n.jsonl"}})",
        R"({"settings":{"instanceTypeName":"null-sink","a\u0001b":"c"}})"}) {
    Reply r = CreateConnector("ctl", settings);
    EXPECT_EQ(r.status, 400) << settings << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("control character")) << settings;
  }
  EXPECT_EQ(http().Connector("ctl").status, 404);
  ExpectWorking();
}

TEST_F(HostileInputTest, EmptyAndSelfDuplicatingAppendsAreRefused) {
  // An empty array answered 201 with eventNumber 18446744073709551615.
  Reply empty = http().Call("POST", "/streams/e", "[]", kEventsJson);
  EXPECT_EQ(empty.status, 400) << empty.body;
  std::vector<NewEvent> twice = MakeEvents(6, 0, 1);
  twice.push_back(twice[0]);
  Reply dup = AppendEvents(http(), "e", twice);
  EXPECT_EQ(dup.status, 400) << dup.body;
  EXPECT_THAT(dup.body, HasSubstr("appears twice"));
  EXPECT_EQ(http().Get("/streams/e").status, 404);
  ExpectWorking();
}

TEST_F(HostileInputTest, KafkaPropertiesThatRunCommandsOrLoadCodeAreRefused) {
  // kinit.cmd ran as root when the connector was enabled; plugin.library.paths loaded a .so at
  // create. Both are refused at create now, before librdkafka sees them.
  for (const char* property : {"sasl.kerberos.kinit.cmd", "plugin.library.paths",
                               "ssl.key.location", "sasl.kerberos.keytab"}) {
    nlohmann::json settings = {{"settings",
                                {{"instanceTypeName", "kafka-sink"},
                                 {"bootstrapServers", "127.0.0.1:9"},
                                 {"topic", "t"},
                                 {std::string("producerConfig:") + property, "/tmp/x"}}}};
    Reply r = CreateConnector("kafka", settings.dump());
    EXPECT_EQ(r.status, 400) << property << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr(property));
  }
  EXPECT_EQ(http().Connector("kafka").status, 404);
  ExpectWorking();
}

TEST_F(HostileInputTest, FileSinkNeverTouchesAFileItDidNotWrite) {
  // file-sink cut an existing file's tail after its last newline (a copy of a SQLite database
  // was corrupted that way). A foreign file is now refused and left exactly as it was.
  const auto victim = Path("precious.db");
  const std::string content = "SQLite format 3\nrows\nno newline at the end";
  {
    std::ofstream f(victim, std::ios::binary);
    f << content;
  }
  ASSERT_EQ(CreateConnector("victim", FileSinkSettings(victim)).status, 201);
  ASSERT_EQ(http().Post("/connectors/victim/enable").status, 200);
  ASSERT_TRUE(WaitForState("victim", "FAILED"));
  EXPECT_THAT(http().Connector("victim").body, HasSubstr("file-sink"));
  std::ifstream f(victim, std::ios::binary);
  std::string now((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(now, content);
  ExpectWorking();
}

// A sink that takes its host down at every start (testkit-sink with openResult=abort): the node
// crashes a few times, then leaves the connector FAILED instead of crashing at every boot.
TEST_F(HostileInputTest, ConnectorThatCrashesItsHostAtStartEndsFailedNotInACrashLoop) {
  StopNode();
  NodeOptions options;
  options.data_dir = Path("crashy");
  options.extra_args = {"--plugins-dir", ESDB_TESTDATA_PLUGIN_DIR};
  node_ = std::make_unique<NodeProcess>(options);
  StartNode();
  ASSERT_EQ(CreateConnector("crashy", R"({"settings":{"instanceTypeName":"testkit-sink",)"
                                      R"("target":"t","openResult":"abort"}})")
                .status,
            201);
  // The enable is recorded before the runner starts; the sink may abort the node before the
  // answer goes out (status 0: the connection closed), which the loop below expects anyway.
  const int enabled = http().Post("/connectors/crashy/enable").status;
  ASSERT_TRUE(enabled == 200 || enabled == 0) << enabled;

  int crashes = 0;
  std::string state;
  for (int boot = 0; boot < 10 && state != "FAILED"; ++boot) {
    if (!node().running()) {
      // It may crash again before it is ready; Start() then fails, having reaped it.
      if (!node().Start().ok()) {
        ++crashes;
        continue;
      }
      http_ = std::make_unique<NodeHttp>(node().port());
    }
    // Either the node dies (SIGABRT from the sink), or it stays up with the connector FAILED.
    bool settled = WaitUntil(
        [&] {
          if (http().Get("/health/live").status != 204) return true;  // gone
          state = http().StateOf("crashy");
          return state == "FAILED";
        },
        absl::Seconds(30));
    ASSERT_TRUE(settled) << "state " << state;
    if (state == "FAILED") break;
    auto exit = node().Kill();  // only reaps it: a dead process ignores the signal
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(exit->signal, SIGABRT) << exit->ToString();
    ++crashes;
  }
  EXPECT_EQ(state, "FAILED");
  EXPECT_GE(crashes, 1);
  EXPECT_LE(crashes, 3);
  Reply c = http().Connector("crashy");
  EXPECT_THAT(c.json.value("errorDetails", nlohmann::json()).dump(), HasSubstr("times in a row"))
      << c.body;
  // Two more boots: it stays FAILED and the node stays up.
  for (int restart = 0; restart < 2; ++restart) {
    StopNode();
    StartNode();
    EXPECT_EQ(http().StateOf("crashy"), "FAILED");
    ExpectWorking();
  }
}

}  // namespace
}  // namespace esdb::e2e
