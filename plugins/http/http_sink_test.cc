// http-sink (plugins/http) through the loader, delivering to a real receiver process
// (testing/receiver_main.cc) over real sockets: what goes on the wire, keep-alive, and how every
// kind of answer or failure maps to OK, RETRY or FATAL.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sinks/plugin.h"
#include "sinks/test_support.h"
#include "testing/receiver_process.h"

namespace esdb {
namespace {

using ::esdb::testing::LoadOrFail;
using ::esdb::testing::LogCapture;
using ::esdb::testing::MakeRecord;
using ::esdb::testing::PluginPath;
using ::esdb::testing::ReceiverProcess;
using ::esdb::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class HttpSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = LoadOrFail(PluginPath("http"));
    ASSERT_NE(plugin_, nullptr);
    auto receiver = ReceiverProcess::Start(ESDB_HTTP_RECEIVER);
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    receiver_ = *std::move(receiver);
  }

  // One request per record unless the host's batches (batching:batchSize) are larger.
  static SinkContext Context(int64_t batch_size = 1) {
    return {.connector_id = "conn-http", .max_batch_records = batch_size};
  }

  std::unique_ptr<Sink> Open(SettingsMap settings, int64_t batch_size = 1) {
    settings.emplace("url", receiver_->Url("/in"));
    auto sink = plugin_->Open(Context(batch_size), settings, log_.Fn());
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }

  json Requests() {
    auto r = receiver_->Requests();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : json::array();
  }

  json Stats() {
    auto r = receiver_->Stats();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : json::object();
  }

  // One write of a single record under `schedule`; returns the result.
  SinkResult WriteUnder(Sink& sink, const std::string& schedule) {
    EXPECT_TRUE(receiver_->Schedule(schedule).ok());
    std::vector<Record> batch = {MakeRecord("s", 0, 100)};
    return sink.Write(batch);
  }

  // One write of a record far larger than the sockets' buffers hold, so that the request's
  // body cannot all be sent before the receiver acts on `schedule`.
  SinkResult WriteTooLargeForTheSocketsUnder(Sink& sink, const std::string& schedule) {
    EXPECT_TRUE(receiver_->Schedule(schedule).ok());
    std::vector<Record> batch = {MakeRecord(
        "s", 0, 100, "Big", absl::StrCat(R"({"pad":")", std::string(8 << 20, 'x'), R"("})"))};
    return sink.Write(batch);
  }

  std::unique_ptr<SinkPlugin> plugin_;
  std::unique_ptr<ReceiverProcess> receiver_;
  LogCapture log_;
};

TEST_F(HttpSinkTest, OneRequestPerEventWithTheDeduplicationHeaders) {
  auto sink = plugin_
                  ->Open(Context(),
                         {{"url", receiver_->Url("/in/{stream}/{event-type}?from=esdb")},
                          {"defaultHeaders:X-Tenant", "acme"},
                          {"authentication:method", "basic"},
                          {"authentication:basic:username", "ann"},
                          {"authentication:basic:password", "s3cret"}},
                         log_.Fn())
                  .value();
  Record first = MakeRecord("orders/7 x", 3, 4096, "Order Shipped", R"({"id":7})");
  Record second = MakeRecord("orders-8", 0, 5000, "Placed", "\x01\x02");
  second.content_type = "application/octet-stream";
  second.event_id = "11111111-2222-3333-4444-555555555555";
  std::vector<Record> batch = {first, second};
  SinkResult r = sink->Write(batch);
  ASSERT_EQ(r.outcome, SinkOutcome::kOk) << r.message;

  json requests = Requests();
  ASSERT_EQ(requests.size(), 2u) << requests.dump();
  const json& a = requests[0];
  EXPECT_EQ(a["method"], "POST");
  EXPECT_EQ(a["target"], "/in/orders%2F7%20x/Order%20Shipped?from=esdb");
  EXPECT_EQ(a["body"], R"({"id":7})");
  EXPECT_EQ(a["headers"]["Content-Type"], "application/json");
  EXPECT_EQ(a["headers"]["esdb-log-position"], "4096");
  EXPECT_EQ(a["headers"]["esdb-stream"], "orders/7 x");
  EXPECT_EQ(a["headers"]["esdb-revision"], "3");
  EXPECT_EQ(a["headers"]["esdb-event-id"], "0c7d2f4e-1b2a-4c3d-9e8f-102030405060");
  EXPECT_EQ(a["headers"]["esdb-event-type"], "Order Shipped");
  EXPECT_EQ(a["headers"]["esdb-created"], "2024-05-01T12:30:05.000250Z");
  EXPECT_EQ(a["headers"]["X-Tenant"], "acme");
  EXPECT_EQ(a["headers"]["Authorization"], "Basic YW5uOnMzY3JldA==");  // ann:s3cret
  const json& b = requests[1];
  EXPECT_EQ(b["target"], "/in/orders-8/Placed?from=esdb");
  EXPECT_EQ(b["body"], "\x01\x02");
  EXPECT_EQ(b["headers"]["Content-Type"], "application/octet-stream");
  EXPECT_EQ(b["headers"]["esdb-log-position"], "5000");
  EXPECT_EQ(b["headers"]["esdb-event-id"], "11111111-2222-3333-4444-555555555555");
  // Both on one kept-alive connection.
  EXPECT_EQ(Stats()["connections"], 1);
}

TEST_F(HttpSinkTest, HeaderValuesCannotBeInjected) {
  auto sink = Open({{"authentication:method", "bearer"}, {"authentication:bearer:token", "t0k"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> batch = {MakeRecord("evil\r\nX-Injected: 1", 0, 7, "T\xc3\xa9")};
  ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  json requests = Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["headers"]["esdb-stream"], "evil%0D%0AX-Injected: 1");
  EXPECT_EQ(requests[0]["headers"]["esdb-event-type"], "T%C3%A9");
  EXPECT_FALSE(requests[0]["headers"].contains("X-Injected"));
  EXPECT_EQ(requests[0]["headers"]["Authorization"], "Bearer t0k");
}

TEST_F(HttpSinkTest, LargerBatchSizeSendsOneJsonArray) {
  auto sink = Open({{"method", "PUT"}}, 500);
  ASSERT_NE(sink, nullptr);
  std::vector<Record> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(MakeRecord("orders-" + std::to_string(i), i, 100 + i, "Placed",
                               absl::StrCat(R"({"i":)", i, "}")));
  }
  batch[2].metadata = R"({"by":"me"})";
  ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  json requests = Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["method"], "PUT");
  EXPECT_EQ(requests[0]["headers"]["Content-Type"], "application/json");
  EXPECT_EQ(requests[0]["headers"]["esdb-batch-count"], "3");
  EXPECT_EQ(requests[0]["headers"]["esdb-batch-first-position"], "100");
  EXPECT_EQ(requests[0]["headers"]["esdb-batch-last-position"], "102");
  json body = json::parse(requests[0]["body"].get<std::string>());
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(body[i]["position"], 100 + i);
    EXPECT_EQ(body[i]["stream"], "orders-" + std::to_string(i));
    EXPECT_EQ(body[i]["revision"], i);
    EXPECT_EQ(body[i]["eventId"], "0c7d2f4e-1b2a-4c3d-9e8f-102030405060");
    EXPECT_EQ(body[i]["eventType"], "Placed");
    EXPECT_EQ(body[i]["data"], json({{"i", i}}));
  }
  EXPECT_EQ(body[2]["metadata"], json({{"by", "me"}}));
}

TEST_F(HttpSinkTest, TemplatedUrlSplitsABatchIntoRunsInOrder) {
  auto sink =
      plugin_->Open(Context(10), {{"url", receiver_->Url("/s/{stream}")}}, log_.Fn()).value();
  std::vector<Record> batch = {MakeRecord("a", 0, 1), MakeRecord("a", 1, 2), MakeRecord("b", 0, 3),
                               MakeRecord("a", 2, 4)};
  ASSERT_EQ(sink->Write(batch).outcome, SinkOutcome::kOk);
  json requests = Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["target"], "/s/a");
  EXPECT_EQ(requests[0]["headers"]["esdb-batch-count"], "2");
  EXPECT_EQ(requests[1]["target"], "/s/b");
  EXPECT_EQ(requests[2]["target"], "/s/a");
  EXPECT_EQ(json::parse(requests[2]["body"].get<std::string>())[0]["position"], 4);
}

TEST_F(HttpSinkTest, TransientAnswersAreRetry) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  for (const char* status : {"503", "500", "502", "408", "429"}) {
    SinkResult r = WriteUnder(*sink, status);
    EXPECT_EQ(r.outcome, SinkOutcome::kRetry) << status;
    EXPECT_THAT(r.message, HasSubstr(absl::StrCat("HTTP ", status))) << r.message;
    EXPECT_THAT(r.message, HasSubstr("scheduled answer " + std::string(status)));
  }
  // The connection survives answers that keep it alive.
  EXPECT_EQ(Stats()["connections"], 1);
}

TEST_F(HttpSinkTest, OtherClientErrorsAreFatalWithStatusAndBody) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  for (const char* status : {"400", "401", "404", "413", "301"}) {
    SinkResult r = WriteUnder(*sink, status);
    EXPECT_EQ(r.outcome, SinkOutcome::kFatal) << status;
    EXPECT_THAT(r.message, HasSubstr(absl::StrCat("HTTP ", status)));
    EXPECT_THAT(r.message, HasSubstr("scheduled answer " + std::string(status)));
    EXPECT_THAT(r.message, HasSubstr("POST http://127.0.0.1:"));
  }
}

TEST_F(HttpSinkTest, RetryAfterDelaysTheNextWrite) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  SinkResult r = WriteUnder(*sink, "429:1");
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("retry after 1000 ms"));
  auto t0 = Clock::now();
  r = WriteUnder(*sink, "ok");
  EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(900));
}

TEST_F(HttpSinkTest, RetryAfterIsCappedByTheRequestTimeout) {
  auto sink = Open({{"requestTimeoutMs", "200"}});
  ASSERT_NE(sink, nullptr);
  SinkResult r = WriteUnder(*sink, "503:3600");
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("retry after 200 ms"));
  auto t0 = Clock::now();
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(HttpSinkTest, StallTimesOutAsRetryWithinTheRequestTimeout) {
  auto sink = Open({{"requestTimeoutMs", "300"}});
  ASSERT_NE(sink, nullptr);
  auto t0 = Clock::now();
  SinkResult r = WriteUnder(*sink, "stall:5000");
  auto took = Clock::now() - t0;
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("no response within 300 ms"));
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  // The next write gets a fresh connection and goes through.
  r = WriteUnder(*sink, "ok");
  EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
  EXPECT_EQ(Stats()["connections"], 2);
}

TEST_F(HttpSinkTest, DroppedConnectionsAreRetry) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  for (const char* action : {"drop", "cut"}) {
    SinkResult r = WriteUnder(*sink, action);
    EXPECT_EQ(r.outcome, SinkOutcome::kRetry) << action;
    EXPECT_THAT(r.message, HasSubstr("POST http://127.0.0.1:")) << r.message;
  }
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);
}

// A 1xx is an interim response (103 Early Hints): the answer still comes.
TEST_F(HttpSinkTest, AnInterimResponseIsNotTheAnswer) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  SinkResult r = WriteUnder(*sink, "hints");
  EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
}

// Bytes after an answer were not asked for: the next request on that connection would take a
// second response for its own answer (here a 200 for what the receiver answers 503).
TEST_F(HttpSinkTest, AnUnaskedSecondResponseIsNotTakenForTheNextAnswer) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(WriteUnder(*sink, "twice,503").outcome, SinkOutcome::kOk);
  std::vector<Record> batch = {MakeRecord("s", 1, 200)};
  SinkResult r = sink->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry) << r.message;
  EXPECT_THAT(r.message, HasSubstr("HTTP 503"));
  EXPECT_EQ(Stats()["deliveries"], 2);
}

// A receiver that refuses a request by its headers answers before the body is sent, and closes:
// its answer is the outcome (FATAL for a 413), not the broken write (RETRY, for ever).
TEST_F(HttpSinkTest, AnAnswerSentBeforeTheBodyWasReadIsTheOutcome) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  SinkResult r = WriteTooLargeForTheSocketsUnder(*sink, "early:413");
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal) << r.message;
  EXPECT_THAT(r.message, HasSubstr("HTTP 413"));
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);
}

// An early 2xx did not see the whole request: with the write broken it is no acknowledgement.
TEST_F(HttpSinkTest, AnEarlySuccessBeforeTheBodyWasReadIsNoAcknowledgement) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(WriteTooLargeForTheSocketsUnder(*sink, "early:200").outcome, SinkOutcome::kRetry);
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);
}

// A reused connection that the server closes after an interim response did carry the request:
// it is not sent again at once on a new connection (the host's retry decides, after its delay).
TEST_F(HttpSinkTest, AnInterimResponseThenACloseIsRetryWithoutASecondSend) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);  // a connection to reuse
  EXPECT_EQ(WriteUnder(*sink, "hints-cut,ok").outcome, SinkOutcome::kRetry);
  EXPECT_EQ(Stats()["deliveries"], 2);
}

TEST_F(HttpSinkTest, StatusesHttpDoesNotHaveAreRetryAndNamed) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  for (const char* status : {"700", "000", "101"}) {
    SinkResult r = WriteUnder(*sink, absl::StrCat("raw:", status));
    EXPECT_EQ(r.outcome, SinkOutcome::kRetry) << status;
    EXPECT_THAT(r.message, HasSubstr(absl::StrCat("status ", std::stoi(status)))) << r.message;
  }
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);
}

// A chunk-size line that never ends is refused at a bound, not read until the request timeout
// (it would grow in memory all that while).
TEST_F(HttpSinkTest, AChunkLineThatNeverEndsFailsTheWriteAtItsBound) {
  auto sink = Open({{"requestTimeoutMs", "60000"}});
  ASSERT_NE(sink, nullptr);
  SinkResult r = WriteUnder(*sink, "endless");
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, Not(HasSubstr("no response within"))) << r.message;
  EXPECT_EQ(WriteUnder(*sink, "ok").outcome, SinkOutcome::kOk);
}

TEST_F(HttpSinkTest, NothingListeningIsRetry) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // the port is now (almost certainly) closed
  auto sink = plugin_->Open(
      Context(), {{"url", absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/x")}},
      log_.Fn());
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<Record> batch = {MakeRecord("s", 0, 1)};
  SinkResult r = (*sink)->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("cannot connect"));
}

TEST_F(HttpSinkTest, ValidateNamesTheKeyAtFault) {
  struct Case {
    SettingsMap settings;
    std::string needle;
  };
  std::vector<Case> cases = {
      {{{"url", "ftp://x"}}, "url: the URL must start with http:// or https://"},
      {{{"url", "http://h/{streams}"}}, "url: unknown placeholder"},
      {{{"url", "http://{stream}/"}}, "url: placeholders are allowed only in the path"},
      {{{"url", "http://h:99999/"}}, "url: the URL's port"},
      {{{"url", "http://u:p@h/"}}, "url: the URL must not carry user info"},
      // Found by fuzz/http_config: sent as it was on the request line.
      {{{"url", "http://h/caf\xC3\xA9"}},
       "url: the URL contains a space, a control character or a byte beyond ASCII"},
      {{{"url", "http://ex\xC3\xA4mple.com/"}}, "byte beyond ASCII (percent-encode it)"},
      {{{"url", "http://h/"}, {"authentication:method", "basic"}},
       "authentication:basic:username: required"},
      {{{"url", "http://h/"}, {"authentication:method", "bearer"}},
       "authentication:bearer:token: required"},
      {{{"url", "http://h/"}, {"authentication:bearer:token", "x"}},
       "authentication:method: is 'none'"},
      {{{"url", "http://h/"}, {"defaultHeaders:Bad Name", "x"}}, "not a valid header name"},
      {{{"url", "http://h/"}, {"requestTimeoutMs", "0"}}, "requestTimeoutMs: must be"},
      {{{"url", "http://h/"}, {"tls:caFile", "/x.pem"}}, "tls:caFile: set, but the url"},
      {{{"url", "http://h/"}, {"method", "GET"}}, "method: 'GET' is not valid"},
  };
  for (const Case& c : cases) {
    absl::Status s = plugin_->Validate(c.settings);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.needle;
    EXPECT_THAT(s.message(), HasSubstr(c.needle));
  }
  EXPECT_TRUE(plugin_
                  ->Validate({{"url", "https://[::1]:8443/a?b={event-type}"},
                              {"authentication:method", "basic"},
                              {"authentication:basic:username", "u"},
                              {"authentication:basic:password", ""}})
                  .ok());
  EXPECT_TRUE(plugin_->IsSecret("authentication:basic:password"));
  EXPECT_TRUE(plugin_->IsSecret("authentication:bearer:token"));
  EXPECT_FALSE(plugin_->IsSecret("authentication:basic:username"));
}

TEST_F(HttpSinkTest, MissingCaFileIsInvalidConfigAtOpen) {
  auto sink = plugin_->Open(
      Context(), {{"url", "https://127.0.0.1:1/"}, {"tls:caFile", "/nonexistent.pem"}}, log_.Fn());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sink.status().message(), HasSubstr("tls:caFile: cannot load '/nonexistent.pem'"));
}

// Every value this sink uses ends up in a request line, a header or a file name; a control
// character (a tab or DEL included) in any of them is refused, naming the key.
TEST_F(HttpSinkTest, ControlCharactersInAnyOwnSettingAreRefused) {
  std::vector<SettingsMap> cases = {
      {{"url", "http://h/a\tb"}},
      {{"url", "http://h/"}, {"defaultHeaders:X-Tag", "a\r\nX-Injected: 1"}},
      {{"url", "http://h/"}, {"defaultHeaders:X-Tag", "a\tb"}},
      {{"url", "http://h/"}, {"defaultHeaders:X-Tag", "a\x7f"}},
      {{"url", "http://h/"},
       {"authentication:method", "basic"},
       {"authentication:basic:username", "u\x01"},
       {"authentication:basic:password", "p"}},
      {{"url", "http://h/"},
       {"authentication:method", "basic"},
       {"authentication:basic:username", "u"},
       {"authentication:basic:password", "p\n"}},
      {{"url", "http://h/"},
       {"authentication:method", "bearer"},
       {"authentication:bearer:token", "t\r\nX: y"}},
      {{"url", "https://h/"}, {"tls:caFile", "/etc/ssl/a\nb.pem"}},
  };
  for (const SettingsMap& settings : cases) {
    absl::Status s = plugin_->Validate(settings);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(s.message(), HasSubstr("the value contains a control character")) << s;
  }
}

// tls:caFile is read whole: only a regular file of bounded size, so that a device or a FIFO
// cannot keep the sink reading or blocked.
TEST_F(HttpSinkTest, CaFileMustBeABoundedRegularFile) {
  TempDir dir;
  const std::string fifo = dir.File("ca.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string huge = dir.File("huge.pem");
  testing::WriteFile(huge, "");
  std::filesystem::resize_file(huge, std::uintmax_t{5} << 20);
  struct Case {
    std::string path;
    std::string needle;
  };
  for (const Case& c : std::vector<Case>{{"/dev/zero", "not a regular file"},
                                         {fifo, "not a regular file"},
                                         {huge, "larger than 4 MiB"}}) {
    auto sink =
        plugin_->Open({"c"}, {{"url", "https://127.0.0.1:1/"}, {"tls:caFile", c.path}}, log_.Fn());
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument) << c.path;
    EXPECT_THAT(sink.status().message(),
                HasSubstr("tls:caFile: cannot load '" + c.path + "': " + c.needle));
  }
  // A real bundle of certificates still loads.
  const std::string bundle = "/etc/ssl/certs/ca-certificates.crt";
  struct stat st;
  if (stat(bundle.c_str(), &st) == 0) {
    auto sink =
        plugin_->Open({"c"}, {{"url", "https://127.0.0.1:1/"}, {"tls:caFile", bundle}}, log_.Fn());
    EXPECT_TRUE(sink.ok()) << sink.status();
  }
}

TEST_F(HttpSinkTest, TlsToAPlainServerIsRetryNotAHang) {
  auto sink = plugin_->Open({"c"},
                            {{"url", absl::StrCat("https://127.0.0.1:", receiver_->port(), "/in")},
                             {"tls:verifyCertificate", "false"},
                             {"requestTimeoutMs", "2000"}},
                            log_.Fn());
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<Record> batch = {MakeRecord("s", 0, 1)};
  SinkResult r = (*sink)->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("TLS handshake"));
}

// batching:maxInFlight > 1: a write returns before its answer, so several are out at once, each
// on its own connection. The receiver holds the first four requests until all four are open, then
// answers the highest position first: the completions come back in reverse order, each to its own
// write.
TEST_F(HttpSinkTest, SeveralWritesInFlightGoOutAtOnceAndCompleteInAnyOrder) {
  auto held = ReceiverProcess::Start(ESDB_HTTP_RECEIVER, {"--hold", "4"});
  ASSERT_TRUE(held.ok()) << held.status();
  SinkContext context = Context();
  context.max_in_flight = 4;
  auto sink = plugin_->Open(context, {{"url", (*held)->Url("/in")}}, log_.Fn());
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->pipelined());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<uint64_t, SinkResult>> completed;  // guarded by mu, in completion order
  for (uint64_t i = 0; i < 4; ++i) {
    auto batch =
        std::make_shared<std::vector<Record>>(std::vector<Record>{MakeRecord("s", i, 100 + i)});
    (*sink)->Submit(batch, [&mu, &cv, &completed, i](SinkResult r) {
      std::lock_guard<std::mutex> lock(mu);
      completed.emplace_back(100 + i, std::move(r));
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return completed.size() == 4; }))
        << completed.size() << " of 4 completed";
  }
  std::vector<uint64_t> order;
  for (const auto& [position, result] : completed) {
    EXPECT_EQ(result.outcome, SinkOutcome::kOk) << position << ": " << result.message;
    order.push_back(position);
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{103, 102, 101, 100}));
  auto stats = (*held)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ((*stats)["maxOpen"], 4) << stats->dump();
  EXPECT_EQ((*stats)["connections"], 4) << stats->dump();
  EXPECT_THAT(log_.Messages(), ::testing::Contains(HasSubstr("up to 4 writes in flight")));
}

// With writes in flight each one is classified on its own: a 503 makes that write RETRY and leaves
// the others OK. One write at a time after that reuses a kept-alive connection.
TEST_F(HttpSinkTest, InFlightWritesAreClassifiedEachOnItsOwn) {
  SinkContext context = Context();
  context.max_in_flight = 3;
  auto sink = plugin_->Open(context, {{"url", receiver_->Url("/in")}}, log_.Fn());
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE(receiver_->Schedule("ok,503,ok").ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<SinkResult> results;  // guarded by mu
  for (uint64_t i = 0; i < 3; ++i) {
    auto batch =
        std::make_shared<std::vector<Record>>(std::vector<Record>{MakeRecord("s", i, 100 + i)});
    (*sink)->Submit(batch, [&mu, &cv, &results](SinkResult r) {
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return results.size() == 3; }));
  int ok = 0, retry = 0;
  for (const SinkResult& r : results) {
    ok += r.outcome == SinkOutcome::kOk;
    if (r.outcome == SinkOutcome::kRetry) {
      ++retry;
      EXPECT_THAT(r.message, HasSubstr("HTTP 503"));
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(retry, 1);
}

// maxInFlight 1 (the default): write() completes on the caller's thread, on one connection.
TEST_F(HttpSinkTest, OneWriteInFlightCompletesBeforeWriteReturns) {
  auto sink = Open({});
  ASSERT_NE(sink, nullptr);
  for (uint64_t i = 0; i < 3; ++i) {
    bool done = false;
    auto batch =
        std::make_shared<std::vector<Record>>(std::vector<Record>{MakeRecord("s", i, 100 + i)});
    sink->Submit(batch, [&done](SinkResult r) {
      EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
      done = true;
    });
    EXPECT_TRUE(done);
  }
  EXPECT_EQ(Stats()["connections"], 1);
  EXPECT_THAT(log_.Messages(), ::testing::Each(::testing::Not(HasSubstr("in flight"))));
}

}  // namespace
}  // namespace esdb
