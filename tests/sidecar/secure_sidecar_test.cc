// The side-car in secure mode against the dev node in secure mode, both real processes: the
// side-car reaches the node over TLS with its own (admin) credentials, serves HTTPS, and
// authorizes its own callers through the node (Users.Details), holding no user list itself.
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "child_process.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"
#include "node_process.h"
#include "sink_output.h"
#include "test_certs.h"

namespace esdb::sidecar_test {
namespace {

using e2e::BinaryPath;
using e2e::ChildProcess;
using e2e::ConnectorsLibraryPath;
using e2e::PluginDir;

using e2e::NodeHttp;
using ::testing::HasSubstr;

const std::vector<e2e::TestUser> kUsers = {
    {"admin", "admin-pw", {"$admins"}}, {"ops", "ops-pw", {"$ops"}}, {"reader", "reader-pw", {}}};

class SecureSidecarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    dir_ = scratch_.path();
    auto certs = e2e::MakeTestCerts(dir_ / "certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    auto users = e2e::MakeUsersFile(dir_, kUsers);
    ASSERT_TRUE(users.ok()) << users.status();
    // A plain database: the side-car is the only host of the connectors library.
    node_ = std::make_unique<ChildProcess>("devnode", dir_ / "logs", [this, users = *users] {
      return std::vector<std::string>{BinaryPath("esdb-devnode"),
                                      "--db",
                                      (dir_ / "node.db").string(),
                                      "--http-port",
                                      "0",
                                      "--grpc-port",
                                      "0",
                                      "--connectors-library",
                                      "none",
                                      "--log-level",
                                      "warn",
                                      "--tls-cert-file",
                                      certs_.node_cert.string(),
                                      "--tls-key-file",
                                      certs_.node_key.string(),
                                      "--tls-ca-file",
                                      certs_.ca_cert.string(),
                                      "--users-file",
                                      users.string()};
    });
    ASSERT_TRUE(node_->Start().ok()) << node_->Logs();
    grpc_port_ = node_->grpc_port();  // the node's pick: none is free for sure until it binds
  }

  void TearDown() override {
    if (HasFailure()) {
      for (ChildProcess* p : {sidecar_.get(), node_.get()}) {
        if (p != nullptr) ADD_FAILURE() << p->Logs();
      }
    }
  }

  // The side-car, connecting as `user` with `connection_options` appended to the connection
  // string's query, serving HTTPS with the same test certificate.
  std::unique_ptr<ChildProcess> Sidecar(const std::string& user, const std::string& password,
                                        const std::string& connection_options = "") {
    return std::make_unique<ChildProcess>("sidecar", dir_ / "logs", [=, this] {
      return std::vector<std::string>{
          BinaryPath("esdb-connectors-sidecar"),
          "--connection-string",
          absl::StrCat("kurrentdb://", user, ":", password, "@127.0.0.1:", grpc_port_,
                       "?tlsCAFile=", certs_.ca_cert.string(), "&defaultDeadline=5000",
                       connection_options),
          "--http-port",
          "0",
          "--connectors-library",
          ConnectorsLibraryPath(),
          "--plugins-dir",
          PluginDir(),
          "--sink-files-root",
          dir_.string(),
          "--host-id",
          "secure-sidecar",
          "--log-level",
          "info",
          "--tls-cert-file",
          certs_.node_cert.string(),
          "--tls-key-file",
          certs_.node_key.string()};
    });
  }

  std::unique_ptr<NodeHttp> Https(uint16_t port, const std::string& user = "",
                                  const std::string& password = "") {
    auto http = std::make_unique<NodeHttp>(port, 30000, http::ClientTls{certs_.CaPem()});
    if (!user.empty()) http->SetCredentials(user, password);
    return http;
  }

  std::string FileSink(const std::string& name) {
    return absl::StrCat(R"({"settings":{"instanceTypeName":"file-sink","path":")",
                        (dir_ / name).string(),
                        R"(","subscription:filter:scope":"stream",)"
                        R"("subscription:filter:filterType":"prefix",)"
                        R"("subscription:filter:expression":"orders-",)"
                        R"("subscription:initialPosition":"earliest"}})");
  }

  e2e::ScratchDir scratch_;
  std::filesystem::path dir_;
  e2e::TestCerts certs_;
  uint16_t grpc_port_ = 0;
  std::unique_ptr<ChildProcess> node_;
  std::unique_ptr<ChildProcess> sidecar_;
};

TEST_F(SecureSidecarTest, AuthorizesItsCallersThroughTheNode) {
  sidecar_ = Sidecar("admin", "admin-pw");
  ASSERT_TRUE(sidecar_->Start().ok()) << sidecar_->Logs();
  const uint16_t port = sidecar_->http_port();

  auto anonymous = Https(port);
  e2e::Reply r = anonymous->Get("/connectors");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_THAT(r.Header("WWW-Authenticate"), HasSubstr("Basic"));
  EXPECT_EQ(anonymous->Get("/health/live").status, 204);
  EXPECT_EQ(anonymous->Get("/metrics").status, 401);
  EXPECT_EQ(Https(port, "ops", "wrong")->Get("/connectors").status, 401);
  EXPECT_EQ(Https(port, "nobody", "ops-pw")->Get("/connectors").status, 401);

  // ops may change (its group comes from the node), a plain user may only read.
  auto ops = Https(port, "ops", "ops-pw");
  e2e::Reply created = ops->Post("/connectors/orders", FileSink("orders.jsonl"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto reader = Https(port, "reader", "reader-pw");
  EXPECT_EQ(reader->Get("/connectors").status, 200);
  EXPECT_EQ(reader->Get("/connectors/orders").status, 200);
  e2e::Reply refused = reader->Post("/connectors/orders/enable");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(reader->Delete("/connectors/orders").status, 403);
  ASSERT_EQ(ops->Post("/connectors/orders/enable").status, 200);

  // The connector runs in the side-car, reading the secure node with the side-car's own
  // credentials: what a user appends to the node reaches the sink.
  auto node_http = Https(node_->http_port(), "reader", "reader-pw");
  auto events = e2e::MakeEvents(9, 0, 3);
  ASSERT_EQ(e2e::AppendEvents(*node_http, "orders-1", events).status, 201);
  EXPECT_TRUE(e2e::WaitUntil(
      [&] {
        auto out = e2e::ReadSinkOutput(dir_ / "orders.jsonl");
        return out.ok() && out->lines.size() >= events.size();
      },
      absl::Seconds(60), absl::Milliseconds(50)))
      << ops->Connector("orders").body;
  EXPECT_EQ(ops->Get("/metrics").status, 200);
}

TEST_F(SecureSidecarTest, RefusesToSendPasswordsOverAPlainConnection) {
  sidecar_ = Sidecar("admin", "admin-pw", "&tls=false");
  absl::Status started = sidecar_->Start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(sidecar_->Logs(), HasSubstr("must use TLS"));
}

TEST_F(SecureSidecarTest, SaysSoWhenItsOwnUserIsNoAdmin) {
  // ops may manage connectors through the API, but the library's own streams are for $admins:
  // the side-car warns, and the library cannot start against the node's refusal.
  sidecar_ = Sidecar("ops", "ops-pw");
  absl::Status started = sidecar_->Start();
  EXPECT_FALSE(started.ok());
  EXPECT_THAT(sidecar_->Logs(), HasSubstr("is not in $admins"));
}

TEST_F(SecureSidecarTest, NeedsACertificateUnlessInsecure) {
  ChildProcess bare("bare", dir_ / "logs", [this] {
    return std::vector<std::string>{
        BinaryPath("esdb-connectors-sidecar"),
        "--connection-string",
        absl::StrCat("kurrentdb://admin:admin-pw@127.0.0.1:", grpc_port_,
                     "?tlsCAFile=", certs_.ca_cert.string()),
        "--http-port",
        "0",
        "--connectors-library",
        ConnectorsLibraryPath()};
  });
  EXPECT_FALSE(bare.Start().ok());
  EXPECT_THAT(bare.Logs(), HasSubstr("--tls-cert-file and --tls-key-file"));
}

}  // namespace
}  // namespace esdb::sidecar_test
