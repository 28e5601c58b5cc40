#include "http/server.h"

#include <chrono>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "http/session.h"
#include "openssl/ssl.h"

namespace esdb::http {
namespace {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

// How long to wait before accepting again after a failed accept (e.g. out of file descriptors).
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

std::string HostPort(const std::string& address, uint16_t port) {
  return absl::StrContains(address, ':') ? absl::StrCat("[", address, "]:", port)
                                         : absl::StrCat(address, ":", port);
}

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP server needs at least one thread, got ", options.threads));
  }
  if (options.header_timeout_ms <= 0 || options.idle_timeout_ms <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HTTP server timeouts must be positive, got header_timeout_ms=", options.header_timeout_ms,
        " idle_timeout_ms=", options.idle_timeout_ms));
  }
  if (options.address.empty()) {
    return absl::InvalidArgumentError("HTTP server listen address is empty");
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("HTTP server needs max_connections of at least 1");
  }
  return absl::OkStatus();
}

// The TLS side of an HTTPS server: modern protocol versions only, the certificate chain and its
// key, checked against each other now rather than at the first handshake.
absl::StatusOr<std::unique_ptr<net::ssl::context>> MakeTlsContext(const ServerOptions::Tls& tls) {
  auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  error_code ec;
  context->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                           net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                           net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                       ec);
  SSL_CTX* native = context->native_handle();
  // Renegotiation lets a client make the server redo expensive work on an open connection;
  // compression leaks secrets (CRIME). Neither is needed.
  SSL_CTX_set_options(
      native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (ec || SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return absl::InternalError("HTTP server TLS: cannot restrict the protocol versions");
  }
  if (context->use_certificate_chain(net::buffer(tls.certificate_chain_pem), ec); ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP server TLS: cannot load the certificate chain: ", ec.message()));
  }
  if (context->use_private_key(net::buffer(tls.private_key_pem), net::ssl::context::pem, ec); ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP server TLS: cannot load the private key: ", ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(
        "HTTP server TLS: the private key does not belong to the certificate");
  }
  return context;
}

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, Handler handler, std::unique_ptr<net::ssl::context> tls)
      : ioc_(options.threads),
        shared_(std::make_shared<ServerShared>()),
        accept_strand_(net::make_strand(ioc_)),
        acceptor_(accept_strand_),
        retry_timer_(accept_strand_),
        work_(net::make_work_guard(ioc_)) {
    shared_->options = std::move(options);
    shared_->handler = std::move(handler);
    shared_->tls = std::move(tls);
  }

  ~Impl() { Stop(); }

  absl::Status Listen() {
    const ServerOptions& options = shared_->options;
    const std::string where = HostPort(options.address, options.port);
    error_code ec;
    tcp::resolver resolver(ioc_);
    const auto endpoints =
        resolver.resolve(options.address, std::to_string(options.port),
                         tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty()) {
      return absl::UnavailableError(absl::StrCat("HTTP server cannot resolve listen address ",
                                                 where, ": ", ec ? ec.message() : "no address"));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    auto failed = [&](absl::string_view step) {
      return absl::UnavailableError(
          absl::StrCat("HTTP server cannot ", step, " ", where, ": ", ec.message()));
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) return failed("open a socket for");
    // Lets a restarted server bind while the previous one's connections sit in TIME_WAIT. On
    // Linux it does not allow two listeners on one port, so "in use" is still reported.
    if (acceptor_.set_option(net::socket_base::reuse_address(true), ec); ec) {
      return failed("set SO_REUSEADDR for");
    }
    if (acceptor_.bind(endpoint, ec); ec) return failed("listen on");
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
      return failed("listen on");
    }
    const tcp::endpoint local = acceptor_.local_endpoint(ec);
    if (ec) return failed("read the local port of");
    port_ = local.port();
    return absl::OkStatus();
  }

  // REQUIRES: Listen() succeeded.
  void Run() {
    absl::MutexLock lock(&stop_mu_);
    net::post(accept_strand_, [this] { Accept(); });
    threads_.reserve(shared_->options.threads);
    for (int i = 0; i < shared_->options.threads; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (...) {
            // Only an exception thrown through Asio lands here (handlers catch their own).
            // Losing that one operation is better than losing a serving thread.
          }
        }
      });
    }
  }

  void Stop() {
    absl::MutexLock lock(&stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    net::post(accept_strand_, [this] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
    });
    shared_->registry.CloseAll();
    // With the acceptor and every connection closed, run() returns once in-flight work (a
    // handler still running, say) has finished.
    work_.reset();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  uint16_t port() const { return port_; }

 private:
  // Accept loop; runs on accept_strand_.
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](error_code ec, tcp::socket socket) {
      if (!acceptor_.is_open()) return;  // Stop() closed it
      if (ec) {
        // Typically out of file descriptors or a connection reset before it was accepted.
        // Retry instead of giving up on serving for good.
        retry_timer_.expires_after(kAcceptRetryDelay);
        retry_timer_.async_wait([this](error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) Accept();
        });
        return;
      }
      if (shared_->registry.size() >= shared_->options.max_connections) {
        // Over the limit: closed before any handshake or read, so it costs next to nothing.
        error_code ignored;
        socket.close(ignored);
      } else if (shared_->tls != nullptr) {
        std::make_shared<TlsSession>(std::move(socket), next_session_id_++, shared_)->Start();
      } else {
        std::make_shared<Session>(std::move(socket), next_session_id_++, shared_)->Start();
      }
      Accept();
    });
  }

  net::io_context ioc_;
  const std::shared_ptr<ServerShared> shared_;
  net::strand<net::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;         // accept_strand_ only
  net::steady_timer retry_timer_;  // accept_strand_ only
  uint64_t next_session_id_ = 0;   // accept_strand_ only
  net::executor_work_guard<net::io_context::executor_type> work_;
  uint16_t port_ = 0;

  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(stop_mu_);
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) return valid;
  if (!handler) return absl::InvalidArgumentError("HTTP server needs a request handler");
  std::unique_ptr<net::ssl::context> tls;
  if (options.tls.has_value()) {
    absl::StatusOr<std::unique_ptr<net::ssl::context>> context = MakeTlsContext(*options.tls);
    if (!context.ok()) return context.status();
    tls = *std::move(context);
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler), std::move(tls));
  if (absl::Status listening = impl->Listen(); !listening.ok()) return listening;
  impl->Run();
  return absl::WrapUnique(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port(); }

void Server::Stop() { impl_->Stop(); }

}  // namespace esdb::http
