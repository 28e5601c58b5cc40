// The HTTP server and client over TLS, in process, with certificates openssl makes for the
// test; and the hosts' start-up check of certificate files (hosting/tls_files.h).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hosting/tls_files.h"
#include "http/client.h"
#include "http/server.h"
#include "test_certs.h"

namespace esdb::e2e {
namespace {

using ::testing::HasSubstr;

// A connected TCP socket to 127.0.0.1:port that sends nothing unless told to.
class RawSocket {
 public:
  explicit RawSocket(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  // Blocks until the peer closes (true) or `timeout` passes (false); discards what arrives.
  // A zero timeout looks once without waiting.
  bool WaitForClose(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    do {
      const int64_t left = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) > 0) {
        char buffer[4096];
        if (::read(fd_, buffer, sizeof buffer) <= 0) return true;
      }
    } while (absl::Now() < deadline);
    return false;
  }

 private:
  int fd_;
  bool connected_ = false;
};

class HttpsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = MakeTestCerts(dir_.path() / "certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    auto files = hosting::LoadTlsFiles(certs_.node_cert.string(), certs_.node_key.string(),
                                       certs_.ca_cert.string());
    ASSERT_TRUE(files.ok()) << files.status();
    files_ = *files;
  }

  void Start(http::ServerOptions options = {}) {
    options.tls = http::ServerOptions::Tls{files_.certificate_chain_pem, files_.private_key_pem};
    auto server = http::Server::Start(options, [](const http::Request& request) {
      http::Response r;
      r.content_type = "text/plain";
      r.body = absl::StrCat("hello ", request.path);
      return r;
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  absl::StatusOr<http::Response> Get(const std::string& host, const std::string& ca_pem) {
    http::Request request;
    request.method = "GET";
    request.path = "/x";
    return http::Fetch(host, server_->port(), request, 5000, http::ClientTls{ca_pem});
  }

  ScratchDir dir_;
  TestCerts certs_;
  hosting::TlsFiles files_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(HttpsServerTest, ServesClientsThatTrustItsCa) {
  Start();
  auto response = Get("127.0.0.1", certs_.CaPem());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello /x");
  response = Get("localhost", certs_.CaPem());  // the DNS name in the certificate works too
  ASSERT_TRUE(response.ok()) << response.status();
  // One kept-alive TLS connection serves many requests.
  http::Client client("127.0.0.1", server_->port(), 5000, http::ClientTls{certs_.CaPem()});
  for (int i = 0; i < 5; ++i) {
    http::Request request;
    request.path = "/again";
    auto r = client.Send(request);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_LE(client.connections_opened(), 2);
}

TEST_F(HttpsServerTest, ClientRefusesAServerItCannotVerify) {
  Start();
  auto other = MakeTestCerts(dir_.path() / "other");
  ASSERT_TRUE(other.ok()) << other.status();
  auto response = Get("127.0.0.1", other->CaPem());
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_THAT(response.status().message(), HasSubstr("TLS handshake"));
}

TEST_F(HttpsServerTest, AStalledHandshakeIsDroppedAtTheHeaderTimeout) {
  http::ServerOptions options;
  options.header_timeout_ms = 2000;
  options.threads = 1;
  Start(options);
  const absl::Time start = absl::Now();
  RawSocket silent(server_->port());
  ASSERT_TRUE(silent.connected());
  // Meanwhile the one thread serves others: the waiting handshake holds none (were it held,
  // this request would wait for the silent connection to be dropped).
  auto response = Get("127.0.0.1", certs_.CaPem());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(silent.WaitForClose(absl::ZeroDuration())) << "dropped before its deadline";
  EXPECT_TRUE(silent.WaitForClose(absl::Seconds(20)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(2000));
}

TEST(TlsFilesTest, ChecksTheFilesBeforeAnyClientDoes) {
  ScratchDir dir;
  auto certs = MakeTestCerts(dir.path() / "a");
  auto other = MakeTestCerts(dir.path() / "b");
  ASSERT_TRUE(certs.ok() && other.ok());
  auto good = hosting::LoadTlsFiles(certs->node_cert.string(), certs->node_key.string(), "");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_THAT(good->subject, HasSubstr("esdb-devnode"));
  EXPECT_GT(good->not_after, absl::Now());
  EXPECT_TRUE(good->ca_pem.empty());

  auto missing = hosting::LoadTlsFiles("/nonexistent.crt", certs->node_key.string(), "");
  EXPECT_THAT(missing.status().message(), HasSubstr("--tls-cert-file '/nonexistent.crt'"));
  auto key_as_cert = hosting::LoadTlsFiles(certs->node_key.string(), certs->node_key.string(), "");
  EXPECT_THAT(key_as_cert.status().message(), HasSubstr("no PEM certificate"));
  auto cert_as_key =
      hosting::LoadTlsFiles(certs->node_cert.string(), certs->node_cert.string(), "");
  EXPECT_THAT(cert_as_key.status().message(), HasSubstr("--tls-key-file"));
  auto mismatch = hosting::LoadTlsFiles(certs->node_cert.string(), other->node_key.string(), "");
  EXPECT_THAT(mismatch.status().message(), HasSubstr("does not belong"));
  auto foreign = hosting::LoadTlsFiles(certs->node_cert.string(), certs->node_key.string(),
                                       other->ca_cert.string());
  EXPECT_THAT(foreign.status().message(), HasSubstr("does not verify"));
  // A CA certificate may sign, not serve.
  auto ca_as_server = hosting::LoadTlsFiles(certs->ca_cert.string(), certs->ca_key.string(), "");
  EXPECT_THAT(ca_as_server.status().message(), HasSubstr("TLS server"));
}

}  // namespace
}  // namespace esdb::e2e
