// The side-car as a real process against the dev node as a real process (started without the
// connectors library, so the side-car is the only host): connectors managed through the
// side-car's HTTP API deliver what is appended to the node; SIGKILL of the node mid-delivery
// and of the side-car lose nothing and keep order; and the side-car's file-sink output is
// byte-identical to the in-process host's for the same log, binary events and metadata included.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "child_process.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "sink_output.h"
#include "streams.grpc.pb.h"

namespace esdb::sidecar_test {
namespace {

using e2e::BinaryPath;
using e2e::ChildProcess;
using e2e::ConnectorsLibraryPath;
using e2e::PluginDir;

using e2e::NewEvent;
using e2e::NodeHttp;
using e2e::OutputLine;

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::Streams;

constexpr absl::Duration kDeliveryWait = absl::Seconds(90);
// Only the test's streams, so the connectors' own bookkeeping never reaches the sinks.
constexpr char kOrdersFilter[] =
    R"("subscription:filter:scope":"stream","subscription:filter:filterType":"prefix",)"
    R"("subscription:filter:expression":"orders-","autocommit:interval":"100",)"
    R"("subscription:initialPosition":"earliest","fsync":"false")";

std::string FileSink(const std::filesystem::path& out) {
  return absl::StrCat(R"({"settings":{"instanceTypeName":"file-sink","path":")", out.string(),
                      R"(",)", kOrdersFilter, "}}");
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file sink's records: its output after the header line, which names the connector.
std::string Records(const std::string& output) {
  size_t header_end = output.find('\n');
  return header_end == std::string::npos ? "" : output.substr(header_end + 1);
}

// An event as appended: its payloads are the bytes the node stores.
struct SentEvent {
  std::string event_type;
  std::string content_type;
  std::string data;
  std::string metadata;  // empty: none
};

// A record's data or metadata against the bytes sent (plugins/file/README.md): embedded when
// `embedded`, null for no bytes, else base64 of the bytes.
void ExpectPayload(const nlohmann::json& got, const std::string& sent, bool embedded,
                   const std::string& what) {
  if (embedded) {
    EXPECT_EQ(got, nlohmann::json::parse(sent)) << what;
  } else if (sent.empty()) {
    EXPECT_TRUE(got.is_null()) << what << ": " << got.dump();
  } else {
    std::string bytes;
    ASSERT_TRUE(got.is_string() && absl::Base64Unescape(got.get<std::string>(), &bytes))
        << what << " is not base64: " << got.dump();
    EXPECT_EQ(bytes, sent) << what;
  }
}

class SidecarProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("sidecar-", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                        "-", getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (HasFailure()) {
      for (ChildProcess* p : {sidecar_.get(), node_.get()}) {
        if (p != nullptr) ADD_FAILURE() << p->Logs();
      }
    }
    sidecar_.reset();
    node_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // The dev node on dir_/node.db; `with_library` makes it the in-process host, else it is a
  // plain database. Later starts (of this node or one made again) reuse the first start's gRPC
  // port, which the side-car's connection string names, and a restart its HTTP port.
  void MakeNode(bool with_library) {
    node_ = std::make_unique<ChildProcess>("devnode", dir_ / "logs", [this, with_library] {
      const uint16_t http = node_ != nullptr ? node_->http_port() : 0;
      return std::vector<std::string>{BinaryPath("esdb-devnode"),
                                      "--db",
                                      (dir_ / "node.db").string(),
                                      "--http-port",
                                      std::to_string(http),
                                      "--grpc-port",
                                      std::to_string(grpc_port_),
                                      "--connectors-library",
                                      with_library ? ConnectorsLibraryPath() : "none",
                                      "--plugins-dir",
                                      PluginDir(),
                                      "--sink-files-root",
                                      dir_.string(),
                                      "--log-level",
                                      "warn",
                                      "--insecure"};
    });
  }

  // Starts node_; the first start's gRPC port is the node's pick (one picked here and closed
  // again could be taken by a parallel test first).
  void StartNode() {
    ASSERT_TRUE(node_->Start().ok()) << node_->Logs();
    if (grpc_port_ == 0) grpc_port_ = node_->grpc_port();
    ASSERT_NE(grpc_port_, 0);
  }

  void MakeSidecar() {
    sidecar_ = std::make_unique<ChildProcess>("sidecar", dir_ / "logs", [this] {
      const uint16_t http = sidecar_ != nullptr ? sidecar_->http_port() : 0;
      return std::vector<std::string>{
          BinaryPath("esdb-connectors-sidecar"), "--connection-string",
          absl::StrCat("kurrentdb://127.0.0.1:", grpc_port_, "?tls=false&defaultDeadline=2000"),
          "--http-port", std::to_string(http), "--connectors-library", ConnectorsLibraryPath(),
          "--plugins-dir", PluginDir(), "--sink-files-root", dir_.string(),
          // The member id comes from gossip (it changes when the dev node restarts); a fixed
          // host id lets a restarted side-car take its leases back at once.
          "--host-id", "sidecar-test", "--log-level", "info", "--insecure"};
    });
  }

  // Appends events n in [first, first+count) to orders-1 through the node's HTTP API.
  void Append(NodeHttp& http, uint64_t first, int count) {
    auto events = e2e::MakeEvents(7, first, count);
    e2e::Reply r = e2e::AppendEvents(http, "orders-1", events);
    ASSERT_EQ(r.status, 201) << r.body;
    for (const NewEvent& e : events) expected_.push_back(e.event_id);
  }

  std::vector<OutputLine> Lines(const std::filesystem::path& file) {
    auto out = e2e::ReadSinkOutput(file);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->lines : std::vector<OutputLine>{};
  }

  // Every expected event has reached `file` (duplicates allowed: at least once).
  bool WaitForAll(const std::filesystem::path& file) {
    return e2e::WaitUntil(
        [&] {
          std::set<std::string> seen;
          for (const OutputLine& l : Lines(file)) seen.insert(l.event_id);
          return seen.size() >= expected_.size();
        },
        kDeliveryWait, absl::Milliseconds(50));
  }

  // No event lost, none out of order: the first occurrences, in file order, are exactly the
  // appended events; a re-delivered suffix (after a crash) only ever repeats earlier lines.
  void ExpectExactlyOnceInOrder(const std::vector<OutputLine>& lines) {
    std::vector<std::string> first;
    std::set<std::string> seen;
    uint64_t high = 0;
    for (const OutputLine& l : lines) {
      if (seen.insert(l.event_id).second) {
        EXPECT_GT(l.position, high) << "a new event came before an older one";
        high = l.position;
        first.push_back(l.event_id);
      }
    }
    EXPECT_EQ(first, expected_);
  }

  // Appends `events` through the node's HTTP API, each with JSON metadata when `with_metadata`.
  void AppendJson(NodeHttp& http, const std::string& stream, const std::vector<NewEvent>& events,
                  bool with_metadata) {
    nlohmann::json body = nlohmann::json::array();
    for (const NewEvent& e : events) {
      nlohmann::json event = {
          {"eventId", e.event_id}, {"eventType", e.event_type}, {"data", e.data}};
      if (with_metadata) event["metadata"] = {{"by", "sidecar-test"}, {"of", e.event_id}};
      body.push_back(event);
      sent_[e.event_id] = {e.event_type, "application/json", e.data.dump(),
                           with_metadata ? event["metadata"].dump() : ""};
    }
    e2e::Reply r = http.Call("POST", "/streams/" + stream, body.dump(),
                             "application/vnd.eventstore.events+json");
    ASSERT_EQ(r.status, 201) << r.body;
  }

  // Appends `count` application/octet-stream events through the node's gRPC API (its HTTP API
  // takes JSON only): bytes that are not text, one that would parse as JSON, and metadata that
  // is JSON, not JSON, or missing.
  void AppendBinary(const std::string& stream, uint32_t tag, int count) {
    auto stub = Streams::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                                     grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    AppendResp resp;
    auto writer = stub->Append(&context, &resp);
    AppendReq options;
    options.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
    options.mutable_options()->mutable_any();
    ASSERT_TRUE(writer->Write(options));
    for (int i = 0; i < count; ++i) {
      const std::string id = e2e::TestEventId(tag, static_cast<uint64_t>(i));
      SentEvent e{"OrderScanned", "application/octet-stream",
                  i == 0 ? std::string(R"({"not":"json here"})")
                         : absl::StrCat(std::string("\0\xff\n\x01", 4), "scan-", i, "\x80"),
                  i % 3 == 0   ? std::string(R"({"scanner":7})")
                  : i % 3 == 1 ? std::string("\x02raw\0meta", 9)
                               : std::string()};
      AppendReq event;
      auto* m = event.mutable_proposed_message();
      m->mutable_id()->set_string(id);
      (*m->mutable_metadata())["type"] = e.event_type;
      (*m->mutable_metadata())["content-type"] = e.content_type;
      m->set_data(e.data);
      m->set_custom_metadata(e.metadata);
      ASSERT_TRUE(writer->Write(event));
      sent_[id] = std::move(e);
    }
    ASSERT_TRUE(writer->WritesDone());
    grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(resp.has_success()) << resp.DebugString();
  }

  // Every record of `file` is an event of sent_ as it was appended (type, content type, data,
  // metadata), and every event of sent_ is there.
  void ExpectRecordsAsSent(const std::filesystem::path& file) {
    std::istringstream records(Records(ReadAll(file)));
    std::set<std::string> seen;
    for (std::string line; std::getline(records, line);) {
      auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(record.is_object()) << line;
      const std::string id = record.value("eventId", "");
      auto sent = sent_.find(id);
      ASSERT_NE(sent, sent_.end()) << "never appended: " << line;
      seen.insert(id);
      const SentEvent& e = sent->second;
      EXPECT_EQ(record["eventType"], e.event_type) << line;
      EXPECT_EQ(record["contentType"], e.content_type) << line;
      ExpectPayload(record["data"], e.data, e.content_type == "application/json",
                    "data of " + line);
      ExpectPayload(record["metadata"], e.metadata,
                    !e.metadata.empty() && nlohmann::json::accept(e.metadata),
                    "metadata of " + line);
    }
    EXPECT_EQ(seen.size(), sent_.size()) << file;
  }

  std::filesystem::path dir_;
  uint16_t grpc_port_ = 0;
  std::unique_ptr<ChildProcess> node_;
  std::unique_ptr<ChildProcess> sidecar_;
  std::vector<std::string> expected_;
  std::map<std::string, SentEvent> sent_;  // by event id: what the filter lets through
};

TEST_F(SidecarProcessTest, DeliversAndSurvivesNodeAndSidecarCrashes) {
  const auto out = dir_ / "orders.jsonl";
  MakeNode(/*with_library=*/false);
  ASSERT_NO_FATAL_FAILURE(StartNode());
  MakeSidecar();
  ASSERT_TRUE(sidecar_->Start().ok()) << sidecar_->Logs();
  NodeHttp node_http(node_->http_port());
  NodeHttp sidecar_http(sidecar_->http_port());

  // The dev node has no library: management is the side-car's alone.
  EXPECT_EQ(node_http.Get("/connectors").status, 503);
  EXPECT_EQ(sidecar_http.Get("/health/live").status, 204);
  // The management page comes from the library, so from the side-car too.
  e2e::Reply page = sidecar_http.Get("/ui/connectors");
  EXPECT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.Header("X-Content-Type-Options"), "nosniff");
  e2e::Reply created = sidecar_http.Post("/connectors/orders", FileSink(out));
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(sidecar_http.Post("/connectors/orders/enable").status, 200);
  Append(node_http, 0, 50);
  ASSERT_TRUE(WaitForAll(out));
  EXPECT_EQ(Lines(out).size(), 50u);
  // RUNNING is recorded by the supervisor right after the runner subscribed; delivery may beat it.
  e2e::Reply listed;
  EXPECT_TRUE(e2e::WaitUntil(
      [&] {
        listed = sidecar_http.Get("/connectors/orders");
        return listed.json["state"] == "RUNNING";
      },
      absl::Seconds(10)))
      << listed.body;
  EXPECT_NE(sidecar_http.Get("/metrics").body.find("orders"), std::string::npos);

  // SIGKILL the node while the side-car is delivering, then bring it back on the same ports.
  for (int chunk = 0; chunk < 10; ++chunk) Append(node_http, 50 + chunk * 30, 30);
  ASSERT_TRUE(node_->Kill().ok());
  // The side-car notices: its connector's subscription drops and the runner says so.
  EXPECT_TRUE(
      e2e::WaitUntil([&] { return sidecar_->Logs().find("resubscribing") != std::string::npos; },
                     absl::Seconds(30), absl::Milliseconds(20)));
  ASSERT_NO_FATAL_FAILURE(StartNode());
  Append(node_http, 350, 50);
  ASSERT_TRUE(WaitForAll(out)) << "delivered " << Lines(out).size();
  ExpectExactlyOnceInOrder(Lines(out));

  // Let the checkpoint reach the end, SIGKILL the side-car, append, restart it: it resumes
  // from its checkpoint (the new events only), not from the start.
  const uint64_t last = Lines(out).back().position;
  ASSERT_TRUE(e2e::WaitUntil(
      [&] {
        e2e::Reply r = sidecar_http.Get("/connectors/orders");
        return r.status == 200 && r.json["position"].is_number() &&
               r.json["position"].get<uint64_t>() >= last;
      },
      kDeliveryWait))
      << sidecar_http.Get("/connectors/orders").body;
  ASSERT_TRUE(sidecar_->Kill().ok());
  const size_t before = Lines(out).size();
  Append(node_http, 400, 40);
  ASSERT_TRUE(sidecar_->Start().ok()) << sidecar_->Logs();
  ASSERT_TRUE(WaitForAll(out));
  auto lines = Lines(out);
  ExpectExactlyOnceInOrder(lines);
  ASSERT_EQ(lines.size(), before + 40) << "the restarted side-car re-delivered old events";
  EXPECT_EQ(lines[before].event_id, expected_[400]);
  ASSERT_TRUE(sidecar_->Stop().ok());
  ASSERT_TRUE(node_->Stop().ok());
}

TEST_F(SidecarProcessTest, SameOutputAsTheInProcessHost) {
  const auto in_process = dir_ / "in-process.jsonl";
  const auto external = dir_ / "sidecar.jsonl";
  // One log: JSON events with and without metadata, binary events with JSON, other or no
  // metadata, over several streams, some not matching the filter.
  MakeNode(/*with_library=*/true);
  ASSERT_NO_FATAL_FAILURE(StartNode());
  {
    NodeHttp http(node_->http_port());
    for (int i = 0; i < 6; ++i) {
      const std::string stream = absl::StrCat("orders-", i % 3);
      auto events = e2e::MakeEvents(9, i * 40, 40, i % 2 == 0 ? "OrderPlaced" : "OrderShipped");
      ASSERT_NO_FATAL_FAILURE(AppendJson(http, stream, events, /*with_metadata=*/i % 2 == 1));
      ASSERT_NO_FATAL_FAILURE(AppendBinary(stream, 20 + i, 6));
      ASSERT_EQ(e2e::AppendEvents(http, "customers-1", e2e::MakeEvents(10, i * 5, 5)).status, 201);
    }
    ASSERT_EQ(sent_.size(), 6u * (40 + 6));
    ASSERT_EQ(http.Post("/connectors/a", FileSink(in_process)).status, 201);
    ASSERT_EQ(http.Post("/connectors/a/enable").status, 200);
    ASSERT_TRUE(
        e2e::WaitUntil([&] { return Lines(in_process).size() >= sent_.size(); }, kDeliveryWait));
  }
  ASSERT_TRUE(node_->Stop().ok());
  const std::string a = ReadAll(in_process);

  // The same log, now served to the side-car by a node without the library. The side-car is
  // made after it, so the node picks a port of its own again (the old one is free for others).
  grpc_port_ = 0;
  MakeNode(/*with_library=*/false);
  ASSERT_NO_FATAL_FAILURE(StartNode());
  MakeSidecar();
  ASSERT_TRUE(sidecar_->Start().ok()) << sidecar_->Logs();
  NodeHttp sidecar_http(sidecar_->http_port());
  ASSERT_EQ(sidecar_http.Post("/connectors/b", FileSink(external)).status, 201);
  ASSERT_EQ(sidecar_http.Post("/connectors/b/enable").status, 200);
  ASSERT_TRUE(
      e2e::WaitUntil([&] { return Lines(external).size() >= sent_.size(); }, kDeliveryWait));
  ASSERT_TRUE(sidecar_->Stop().ok());
  ASSERT_TRUE(node_->Stop().ok());
  const std::string b = ReadAll(external);
  EXPECT_EQ(Lines(in_process).size(), sent_.size());
  // Equal outputs could still both have lost the payloads: each is checked against what was sent.
  ExpectRecordsAsSent(in_process);
  ExpectRecordsAsSent(external);
  // The headers name each file's own connector; the records must agree byte for byte.
  EXPECT_EQ(e2e::ReadSinkOutput(in_process)->connector_id, "a");
  EXPECT_EQ(e2e::ReadSinkOutput(external)->connector_id, "b");
  EXPECT_FALSE(Records(a).empty());
  EXPECT_TRUE(Records(a) == Records(b)) << "outputs differ\n--- in-process ---\n"
                                        << a.substr(0, 2000) << "\n--- side-car ---\n"
                                        << b.substr(0, 2000);
}

TEST_F(SidecarProcessTest, HelpListsTheFlagsAndBadConnectionStringsAreRefused) {
  auto help = e2e::RunToExit({BinaryPath("esdb-connectors-sidecar"), "--help"}, absl::Seconds(30));
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_TRUE(help->status.CleanExit()) << help->status.ToString();
  const std::string text = help->out + help->err;
  for (const char* flag : {"--connection-string", "--http-port", "--connectors-library",
                           "--plugins-dir", "--log-level", "--member-id", "--host-id", "--insecure",
                           "--tls-cert-file", "--tls-key-file", "--tls-ca-file"}) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag << " missing from:\n" << text;
  }
  EXPECT_NE(text.find("2115"), std::string::npos);
  // Refused at once, as a usage error (exit 2), naming the flag: not a hang that gets killed.
  // Nothing is dialled before the string is parsed, so a few seconds are plenty; RunToExit
  // kills a run that takes longer and returns DeadlineExceeded.
  for (const char* bad_string :
       {"http://nowhere", "kurrentdb://127.0.0.1:99999", "kurrentdb://127.0.0.1:2113?tls=maybe"}) {
    auto bad =
        e2e::RunToExit({BinaryPath("esdb-connectors-sidecar"), "--connection-string", bad_string},
                       absl::Seconds(10));
    ASSERT_TRUE(bad.ok()) << bad_string << ": " << bad.status();
    EXPECT_TRUE(bad->status.exited && bad->status.code == 2)
        << bad_string << ": " << bad->status.ToString();
    EXPECT_NE(bad->err.find("--connection-string"), std::string::npos) << bad->err;
  }
}

}  // namespace
}  // namespace esdb::sidecar_test
