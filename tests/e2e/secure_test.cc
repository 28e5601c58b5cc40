// The dev node in secure mode, as a real process over real sockets: HTTPS and gRPC over TLS with
// a CA and certificate made by openssl for the test, users from a users file whose hashes the
// node itself made (--hash-password), and what each kind of caller may and may not do.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/basic_credentials.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gossip.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "node_process.h"
#include "serverfeatures.grpc.pb.h"
#include "streams.grpc.pb.h"
#include "test_certs.h"
#include "users.grpc.pb.h"

namespace esdb::e2e {
namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::DeleteReq;
using event_store::client::streams::DeleteResp;
using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;
using event_store::client::users::DetailsReq;
using event_store::client::users::DetailsResp;
using event_store::client::users::Users;
using ::testing::HasSubstr;

// The users every test but one runs with; "reader" belongs to no group.
const std::vector<TestUser> kUsers = {
    {"admin", "admin-pw", {"$admins"}}, {"ops", "ops-pw", {"$ops"}}, {"reader", "reader-pw", {}}};

std::vector<std::string> TlsArgs(const TestCerts& certs) {
  return {"--tls-cert-file",       certs.node_cert.string(), "--tls-key-file",
          certs.node_key.string(), "--tls-ca-file",          certs.ca_cert.string()};
}

ReadReq StreamRead(const std::string& stream) {
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_stream()->mutable_stream_identifier()->set_stream_name(stream);
  o->mutable_stream()->mutable_start();
  o->set_count(100);
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();
  return req;
}

ReadReq AllRead(bool subscribe) {
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_all()->mutable_start();
  if (subscribe) {
    o->mutable_subscription();
  } else {
    o->set_count(100);
  }
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();
  return req;
}

std::string Trailer(const grpc::ClientContext& context, const std::string& key) {
  auto it = context.GetServerTrailingMetadata().find(key);
  if (it == context.GetServerTrailingMetadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

class SecureNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto certs = MakeTestCerts(dir_.path() / "certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }

  void TearDown() override {
    if (node_ != nullptr && node_->running()) {
      auto stopped = node_->Stop();
      EXPECT_TRUE(stopped.ok() && stopped->CleanExit());
    }
    if (HasFailure() && node_ != nullptr) std::cerr << node_->Logs();
  }

  // Starts a secure node; `users_file` false keeps the default users.
  void StartNode(bool users_file = true) {
    NodeOptions options;
    options.data_dir = dir_.path() / "node";
    options.insecure = false;
    options.extra_args = TlsArgs(certs_);
    if (users_file) {
      auto path = MakeUsersFile(dir_.path(), kUsers);
      ASSERT_TRUE(path.ok()) << path.status();
      options.extra_args.insert(options.extra_args.end(), {"--users-file", path->string()});
    }
    node_ = std::make_unique<NodeProcess>(options);
    absl::Status started = node_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_NE(node_->grpc_port(), 0);
  }

  // A fresh HTTPS client, trusting the test CA, with these credentials (none when user is "").
  std::unique_ptr<NodeHttp> Https(const std::string& user = "", const std::string& password = "") {
    auto http = std::make_unique<NodeHttp>(node_->port(), 30000, http::ClientTls{certs_.CaPem()});
    if (!user.empty()) http->SetCredentials(user, password);
    return http;
  }

  std::shared_ptr<grpc::Channel> Channel() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = certs_.CaPem();
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", node_->grpc_port()),
                               grpc::SslCredentials(ssl));
  }

  // A call context carrying these credentials (none when user is "").
  static std::unique_ptr<grpc::ClientContext> As(const std::string& user,
                                                 const std::string& password) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!user.empty()) {
      context->AddMetadata("authorization", auth::BasicAuthorization(user, password));
    }
    return context;
  }

  grpc::Status Read(const ReadReq& req, grpc::ClientContext* context,
                    std::vector<ReadResp>* out = nullptr) {
    auto reader = Streams::NewStub(Channel())->Read(context, req);
    ReadResp resp;
    while (reader->Read(&resp)) {
      if (out != nullptr) out->push_back(resp);
      // A subscription that was let in has confirmed; that is all these tests ask of it.
      if (resp.has_confirmation()) context->TryCancel();
    }
    return reader->Finish();
  }

  grpc::Status Append(const std::string& stream, grpc::ClientContext* context) {
    AppendResp resp;
    auto writer = Streams::NewStub(Channel())->Append(context, &resp);
    AppendReq options;
    options.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
    options.mutable_options()->mutable_any();
    AppendReq event;
    auto* m = event.mutable_proposed_message();
    m->mutable_id()->set_string("0f8fad5b-d9cb-469f-a165-70867728950e");
    (*m->mutable_metadata())["type"] = "grpc-event";
    (*m->mutable_metadata())["content-type"] = "application/json";
    m->set_data("{}");
    writer->Write(options);
    writer->Write(event);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (status.ok() && !resp.has_success())
      return grpc::Status(grpc::StatusCode::UNKNOWN, "no success");
    return status;
  }

  std::string FileSinkBody(const std::string& name) {
    return absl::StrCat(R"({"settings": {"instanceTypeName": "file-sink", "path": ")",
                        (dir_.path() / name).string(),
                        R"(", "subscription:initialPosition": "earliest"}})");
  }

  ScratchDir dir_;
  TestCerts certs_;
  std::unique_ptr<NodeProcess> node_;
};

TEST_F(SecureNodeTest, RefusesToStartWithoutCertificatesUnlessInsecure) {
  NodeOptions options;
  options.data_dir = dir_.path() / "bare";
  options.insecure = false;
  NodeProcess bare(options);
  absl::Status started = bare.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("exit code 1"));
  EXPECT_THAT(started.message(), HasSubstr("--tls-cert-file and --tls-key-file"));
  EXPECT_THAT(started.message(), HasSubstr("--insecure"));

  options.data_dir = dir_.path() / "both";
  options.insecure = true;
  options.extra_args = TlsArgs(certs_);
  NodeProcess both(options);
  started = both.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("cannot be combined"));

  options.data_dir = dir_.path() / "plain";
  options.extra_args.clear();
  NodeProcess plain(options);
  ASSERT_TRUE(plain.Start().ok());
  EXPECT_THAT(plain.Logs(), HasSubstr("INSECURE"));
  NodeHttp http(plain.port());
  EXPECT_EQ(http.Get("/connectors").status, 200);  // anonymous, and allowed
  ASSERT_TRUE(plain.Stop().ok());
}

TEST_F(SecureNodeTest, RefusesAKeyOrCaThatDoesNotFit) {
  auto other = MakeTestCerts(dir_.path() / "other");
  ASSERT_TRUE(other.ok()) << other.status();
  NodeOptions options;
  options.data_dir = dir_.path() / "mismatch";
  options.insecure = false;
  options.extra_args = {"--tls-cert-file", certs_.node_cert.string(), "--tls-key-file",
                        other->node_key.string()};
  NodeProcess mismatch(options);
  absl::Status started = mismatch.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("does not belong to the certificate"));

  options.data_dir = dir_.path() / "foreign-ca";
  options.extra_args = TlsArgs(certs_);
  options.extra_args.back() = other->ca_cert.string();
  NodeProcess foreign(options);
  started = foreign.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("does not verify against --tls-ca-file"));
}

TEST_F(SecureNodeTest, AnonymousCallersGet401WithABasicChallenge) {
  StartNode();
  auto http = Https();
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/connectors"},
                                                        {"GET", "/connectors/x"},
                                                        {"POST", "/connectors/x"},
                                                        {"GET", "/connector-plugins"},
                                                        {"GET", "/streams/orders"},
                                                        {"POST", "/streams/orders"},
                                                        {"GET", "/metrics"}}) {
    Reply r = http->Call(method, target, method == "POST" ? "{}" : "",
                         method == "POST" ? "application/json" : "");
    EXPECT_EQ(r.status, 401) << method << " " << target << ": " << r.body;
    EXPECT_TRUE(r.IsErrorBody()) << r.body;
    EXPECT_THAT(r.Header("WWW-Authenticate"), HasSubstr("Basic")) << target;
  }
  // Probes and clients sizing up the node need no credentials.
  EXPECT_EQ(http->Get("/health/live").status, 204);
  EXPECT_EQ(http->Get("/info").status, 200);
}

TEST_F(SecureNodeTest, WrongCredentialsGet401EvenWhereAnonymousMayGo) {
  StartNode();
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"admin", "wrong"}, {"admin", ""}, {"nobody", "admin-pw"}, {"reader", "admin-pw"}}) {
    auto http = Https(user, password);
    Reply r = http->Get("/connectors");
    EXPECT_EQ(r.status, 401) << user << ": " << r.body;
    EXPECT_EQ(r.json["message"], "unknown user or wrong password") << r.body;
    EXPECT_EQ(http->Get("/health/live").status, 401) << user;
  }
  auto bearer = Https();
  Reply r = bearer->Call("GET", "/connectors", "", "", {{"Authorization", "Bearer abc"}});
  EXPECT_EQ(r.status, 401) << r.body;
}

TEST_F(SecureNodeTest, OpsManagesConnectorsAndTheyRun) {
  StartNode();
  auto ops = Https("ops", "ops-pw");
  Reply created = ops->Post("/connectors/orders", FileSinkBody("orders.jsonl"));
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(ops->Post("/connectors/orders/enable").status, 200);
  EXPECT_TRUE(WaitUntil([&] { return ops->StateOf("orders") == "RUNNING"; }, absl::Seconds(30)))
      << ops->Connector("orders").body;
  // Events written over HTTPS by an ordinary user reach the sink: the library in the node is
  // not subject to the client protocol's checks.
  auto reader = Https("reader", "reader-pw");
  ASSERT_EQ(AppendEvents(*reader, "order-1", MakeEvents(1, 0, 3)).status, 201);
  EXPECT_TRUE(WaitUntil(
      [&] {
        Reply r = ops->Connector("orders");
        return r.status == 200 && r.json.value("position", nlohmann::json()).is_number() &&
               r.json["position"].get<uint64_t>() > 0;
      },
      absl::Seconds(30)))
      << ops->Connector("orders").body;
  ASSERT_EQ(ops->Post("/connectors/orders/disable").status, 200);
  EXPECT_TRUE(WaitUntil([&] { return ops->StateOf("orders") == "STOPPED"; }, absl::Seconds(30)));
  EXPECT_EQ(ops->Delete("/connectors/orders").status, 200);
  EXPECT_EQ(ops->Get("/metrics").status, 200);
}

TEST_F(SecureNodeTest, APlainUserReadsButCannotChange) {
  StartNode();
  auto admin = Https("admin", "admin-pw");
  ASSERT_EQ(admin->Post("/connectors/x", FileSinkBody("x.jsonl")).status, 201);
  auto reader = Https("reader", "reader-pw");
  EXPECT_EQ(reader->Get("/connectors").status, 200);
  EXPECT_EQ(reader->Get("/connectors/x").status, 200);
  EXPECT_EQ(reader->Get("/connector-plugins").status, 200);
  EXPECT_EQ(reader->Get("/metrics").status, 200);
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/connectors/y"},
                                                        {"POST", "/connectors/x/enable"},
                                                        {"POST", "/connectors/x/disable"},
                                                        {"POST", "/connectors/x/reset"},
                                                        {"PUT", "/connectors/x/settings"},
                                                        {"DELETE", "/connectors/x"}}) {
    const bool body =
        method != "DELETE" && !absl::EndsWith(target, "able") && !absl::EndsWith(target, "reset");
    Reply r = reader->Call(method, target, body ? FileSinkBody("y.jsonl") : "",
                           body ? "application/json" : "");
    EXPECT_EQ(r.status, 403) << method << " " << target << ": " << r.body;
    EXPECT_TRUE(r.IsErrorBody()) << r.body;
  }
  EXPECT_EQ(reader->Get("/connectors/y").status, 404);
}

TEST_F(SecureNodeTest, StreamRoutesFollowTheStreamPolicy) {
  StartNode();
  auto reader = Https("reader", "reader-pw");
  ASSERT_EQ(AppendEvents(*reader, "orders", MakeEvents(2, 0, 1)).status, 201);
  EXPECT_EQ(reader->Get("/streams/orders").status, 200);
  auto admin = Https("admin", "admin-pw");
  ASSERT_EQ(admin->Post("/connectors/x", FileSinkBody("x.jsonl")).status, 201);
  for (const char* stream : {"/streams/%24connectors", "/streams/%24connectors-hosts"}) {
    EXPECT_EQ(reader->Get(stream).status, 403) << stream;
    EXPECT_EQ(AppendEvents(*reader, absl::StrCat(stream + 9), MakeEvents(3, 0, 1)).status, 403);
  }
  EXPECT_EQ(admin->Get("/streams/%24connectors").status, 200);
  auto ops = Https("ops", "ops-pw");
  EXPECT_EQ(ops->Get("/streams/%24connectors").status, 403);
}

TEST_F(SecureNodeTest, GrpcNeedsCredentialsAndKeepsLibraryStreamsAndAllForAdmins) {
  StartNode();
  auto admin_http = Https("admin", "admin-pw");
  ASSERT_EQ(admin_http->Post("/connectors/x", FileSinkBody("x.jsonl")).status, 201);

  // Anonymous: Streams refuses, discovery answers.
  EXPECT_EQ(Read(StreamRead("orders"), As("", "").get()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Append("orders", As("", "").get()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  {
    auto context = As("", "");
    event_store::client::server_features::SupportedMethods methods;
    EXPECT_TRUE(event_store::client::server_features::ServerFeatures::NewStub(Channel())
                    ->GetSupportedMethods(context.get(), {}, &methods)
                    .ok());
    auto gossip_context = As("", "");
    event_store::client::gossip::ClusterInfo info;
    EXPECT_TRUE(event_store::client::gossip::Gossip::NewStub(Channel())
                    ->Read(gossip_context.get(), {}, &info)
                    .ok());
  }
  // Wrong credentials are refused even where anonymous callers are let in.
  {
    auto context = As("reader", "nope");
    event_store::client::server_features::SupportedMethods methods;
    EXPECT_EQ(event_store::client::server_features::ServerFeatures::NewStub(Channel())
                  ->GetSupportedMethods(context.get(), {}, &methods)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(Read(StreamRead("orders"), As("reader", "nope").get()).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A plain user: its own streams yes; $all and the library's streams no.
  EXPECT_TRUE(Append("orders", As("reader", "reader-pw").get()).ok());
  std::vector<ReadResp> events;
  EXPECT_TRUE(Read(StreamRead("orders"), As("reader", "reader-pw").get(), &events).ok());
  EXPECT_EQ(events.size(), 1u);
  for (const char* stream :
       {"$connectors", "$connectors/x", "$connectors-hosts", "$$$connectors/x"}) {
    auto context = As("reader", "reader-pw");
    EXPECT_EQ(Read(StreamRead(stream), context.get()).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << stream;
    EXPECT_EQ(Trailer(*context, "exception"), "access-denied") << stream;
    EXPECT_EQ(Append(stream, As("ops", "ops-pw").get()).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << stream;
  }
  EXPECT_EQ(Read(AllRead(false), As("reader", "reader-pw").get()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Read(AllRead(true), As("ops", "ops-pw").get()).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  {
    auto context = As("ops", "ops-pw");
    DeleteReq req;
    req.mutable_options()->mutable_stream_identifier()->set_stream_name("$connectors/x");
    req.mutable_options()->mutable_any();
    DeleteResp resp;
    EXPECT_EQ(Streams::NewStub(Channel())->Delete(context.get(), req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(admin_http->Get("/connectors/x").status, 200);  // nothing was deleted

  // $admins may.
  events.clear();
  EXPECT_TRUE(Read(StreamRead("$connectors/x"), As("admin", "admin-pw").get(), &events).ok());
  EXPECT_FALSE(events.empty());
  events.clear();
  EXPECT_TRUE(Read(AllRead(false), As("admin", "admin-pw").get(), &events).ok());
  EXPECT_FALSE(events.empty());
  events.clear();
  EXPECT_EQ(Read(AllRead(true), As("admin", "admin-pw").get(), &events).error_code(),
            grpc::StatusCode::CANCELLED);  // let in, confirmed, then cancelled by the test
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.front().has_confirmation());
}

// An admin may tombstone a connector stream over the client protocol, behind the library's back:
// the connector stays manageable, shows why it failed, and its id can be deleted and used again.
TEST_F(SecureNodeTest, AConnectorStreamTombstonedBehindTheLibrarysBackStaysManageable) {
  StartNode();
  auto admin = Https("admin", "admin-pw");
  ASSERT_EQ(admin->Post("/connectors/x", FileSinkBody("x.jsonl")).status, 201);
  ASSERT_EQ(admin->Post("/connectors/x/enable").status, 200);
  EXPECT_TRUE(WaitUntil([&] { return admin->StateOf("x") == "RUNNING"; }, absl::Seconds(30)));
  {
    auto context = As("admin", "admin-pw");
    event_store::client::streams::TombstoneReq req;
    req.mutable_options()->mutable_stream_identifier()->set_stream_name("$connectors/x");
    req.mutable_options()->mutable_any();
    event_store::client::streams::TombstoneResp resp;
    ASSERT_TRUE(Streams::NewStub(Channel())->Tombstone(context.get(), req, &resp).ok());
  }
  Reply damaged;
  EXPECT_TRUE(WaitUntil(
      [&] {
        damaged = admin->Connector("x");
        return damaged.status == 200 && damaged.json.value("state", "") == "FAILED";
      },
      absl::Seconds(30)))
      << damaged.body;
  ASSERT_TRUE(damaged.json.contains("errorDetails")) << damaged.body;
  EXPECT_EQ(damaged.json["errorDetails"].value("code", ""), "stream-deleted") << damaged.body;
  EXPECT_THAT(damaged.json["errorDetails"].value("message", ""), HasSubstr("$connectors/x"));
  Reply list = admin->Get("/connectors");
  ASSERT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("\"x\""));
  EXPECT_EQ(admin->Post("/connectors/x/disable").status, 409);
  EXPECT_EQ(admin->Post("/connectors/x", FileSinkBody("x2.jsonl")).status, 409);

  ASSERT_EQ(admin->Delete("/connectors/x").status, 200);
  EXPECT_EQ(admin->Get("/connectors/x").status, 404);
  ASSERT_EQ(admin->Post("/connectors/x", FileSinkBody("x2.jsonl")).status, 201);
  ASSERT_EQ(admin->Post("/connectors/x/enable").status, 200);
  EXPECT_TRUE(WaitUntil([&] { return admin->StateOf("x") == "RUNNING"; }, absl::Seconds(30)))
      << admin->Connector("x").body;
}

TEST_F(SecureNodeTest, UsersDetailsSaysWhoYouAre) {
  StartNode();
  auto details = [&](const std::string& user, const std::string& password, const std::string& name,
                     std::vector<DetailsResp>* out) {
    auto context = As(user, password);
    DetailsReq req;
    req.mutable_options()->set_login_name(name);
    auto reader = Users::NewStub(Channel())->Details(context.get(), req);
    DetailsResp resp;
    while (reader->Read(&resp)) out->push_back(resp);
    return reader->Finish();
  };
  std::vector<DetailsResp> out;
  ASSERT_TRUE(details("ops", "ops-pw", "ops", &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].user_details().login_name(), "ops");
  EXPECT_THAT(out[0].user_details().groups(), ::testing::ElementsAre("$ops"));
  out.clear();
  EXPECT_EQ(details("reader", "reader-pw", "admin", &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(details("", "", "admin", &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(details("ops", "wrong", "ops", &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(details("admin", "admin-pw", "", &out).ok());
  EXPECT_EQ(out.size(), 3u);
}

TEST_F(SecureNodeTest, DefaultUsersAreKurrentDbs) {
  StartNode(/*users_file=*/false);
  EXPECT_THAT(node_->Logs(), HasSubstr("well-known password"));
  EXPECT_EQ(Https("admin", "changeit")->Get("/connectors").status, 200);
  auto ops = Https("ops", "changeit");
  EXPECT_EQ(ops->Post("/connectors/d", FileSinkBody("d.jsonl")).status, 201);
  EXPECT_EQ(Https("reader", "reader-pw")->Get("/connectors").status, 401);
}

TEST_F(SecureNodeTest, NoPlainHttpAndStalledHandshakesHoldNoThread) {
  StartNode();
  NodeHttp plain(node_->port(), 5000);
  EXPECT_EQ(plain.Get("/health/live").status, 0);  // a plain request gets no HTTP answer

  // More silent connections than the server has threads: each waits for a handshake that never
  // comes, and none keeps a thread, so a real client is served at once.
  std::vector<int> silent;
  for (int i = 0; i < 8; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(node_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (i % 2 == 1) ASSERT_EQ(::write(fd, "\x16\x03\x01", 3), 3);  // a handshake begun, no more
    silent.push_back(fd);
  }
  // The node drops them only after its 10 s header timeout; held threads would make this
  // request wait that long, past the client's own 5 s.
  auto http = std::make_unique<NodeHttp>(node_->port(), 5000, http::ClientTls{certs_.CaPem()});
  EXPECT_EQ(http->Get("/health/live").status, 204);
  for (int fd : silent) ::close(fd);
}

TEST(HashPasswordTest, PrintsAHashAndRefusesAnEmptyPassword) {
  ScratchDir dir;
  const auto input = dir.path() / "pw";
  { std::ofstream(input) << "s3cret\n"; }
  auto run = RunToExit({DevnodeBinary(), "--hash-password"}, absl::Seconds(60), input);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_TRUE(run->status.CleanExit()) << run->err;
  EXPECT_THAT(run->out, ::testing::MatchesRegex("pbkdf2-sha256\\$600000\\$[^$]+\\$[^$]+\n"));
  EXPECT_THAT(run->out, ::testing::Not(HasSubstr("s3cret")));
  { std::ofstream(input, std::ios::trunc) << "\n"; }
  run = RunToExit({DevnodeBinary(), "--hash-password"}, absl::Seconds(60), input);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status.code, 1);
  EXPECT_THAT(run->err, HasSubstr("empty"));
}

}  // namespace
}  // namespace esdb::e2e
