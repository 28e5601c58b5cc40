#include "connection.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

namespace esdb_http_sink {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

constexpr size_t kMaxResponseBody = size_t{1} << 20;
// What a read may hold unparsed: a chunk-size line or trailer that never ends (Beast sets no
// limit of its own on those) fails the exchange here instead of growing without end.
constexpr size_t kMaxUnparsed = kMaxResponseBody + (size_t{64} << 10);
// Interim responses (1xx, e.g. 103 Early Hints) skipped before the final one.
constexpr int kMaxInterim = 8;
// Far above any real bundle of CA certificates (the system's is about 200 KB).
constexpr off_t kMaxCaFileBytes = off_t{4} << 20;

// Reads the tls:caFile into `pem`; "" or why not. Only a regular file of bounded size is read,
// so a device (/dev/zero) or a FIFO cannot keep the sink reading or waiting forever.
std::string ReadCaFile(const std::string& path, std::string& pem) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return std::strerror(errno);
  std::string why;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "not a regular file";
  } else if (st.st_size > kMaxCaFileBytes) {
    why = "larger than 4 MiB";
  } else {
    pem.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < pem.size()) {
      ssize_t n = ::read(fd, pem.data() + got, pem.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    pem.resize(got);
  }
  ::close(fd);
  return why;
}

}  // namespace

class Connection::Impl {
 public:
  explicit Impl(const HttpConfig& config) : config_(config) {}

  std::string Init() {
    if (!config_.url.tls) return "";
    try {
      tls_.emplace(ssl::context::tls_client);
      ErrorCode ec;
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1,
                        ec);
      if (!config_.verify_tls) {
        tls_->set_verify_mode(ssl::verify_none);
        return "";
      }
      tls_->set_verify_mode(ssl::verify_peer);
      if (!config_.ca_file.empty()) {
        std::string pem;
        if (std::string why = ReadCaFile(config_.ca_file, pem); !why.empty()) {
          return "tls:caFile: cannot load '" + config_.ca_file + "': " + why;
        }
        tls_->add_certificate_authority(asio::buffer(pem), ec);
        if (ec) return "tls:caFile: cannot load '" + config_.ca_file + "': " + ec.message();
      } else {
        tls_->set_default_verify_paths(ec);
        if (ec) return "cannot load the system's certificate authorities: " + ec.message();
      }
      return "";
    } catch (const boost::system::system_error& e) {
      return std::string("cannot set up TLS: ") + e.what();
    }
  }

  Exchange Send(const PlannedRequest& request) {
    Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(config_.request_timeout_ms);
    bool reused = IsOpen();
    if (reused && !StillOpen()) {
      Close();
      reused = false;
    }
    bool got_bytes = false;
    Exchange exchange = Attempt(request, deadline, got_bytes);
    if (reused && exchange.status == 0 && !exchange.timed_out && !got_bytes) {
      // The server probably closed the idle connection as we reused it.
      Close();
      exchange = Attempt(request, deadline, got_bytes);
    }
    return exchange;
  }

  int connections_opened() const { return opened_; }

 private:
  // Runs one asynchronous operation to completion on this thread. The operation is bounded by
  // the stream's expiry, so this returns by the deadline.
  template <typename Start>
  ErrorCode Await(Start start) {
    ErrorCode result;
    bool done = false;
    start([&result, &done](ErrorCode ec, auto&&...) {
      result = ec;
      done = true;
    });
    io_.restart();
    while (!done && io_.run_one() > 0) {
    }
    return result;
  }

  bool IsOpen() const { return plain_ != nullptr || secure_ != nullptr; }

  beast::tcp_stream& Lowest() {
    return plain_ != nullptr ? *plain_ : beast::get_lowest_layer(*secure_);
  }

  // False when the server has closed the connection (or sent unexpected bytes) since the last
  // response. With TLS, pending bytes are normal (e.g. TLS 1.3 session tickets).
  bool StillOpen() {
    int fd = Lowest().socket().native_handle();
    char byte;
    ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return false;
    if (n > 0) return secure_ != nullptr;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }

  void Close() {
    ErrorCode ignored;
    if (IsOpen()) {
      Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      Lowest().socket().close(ignored);
    }
    plain_.reset();
    secure_.reset();
    buffer_.clear();
  }

  // Opens a connection by `deadline`; "" or why not (timed_out set when the deadline passed).
  std::string Connect(Clock::time_point deadline, bool& timed_out) {
    if (!endpoints_.has_value()) {
      tcp::resolver resolver(io_);
      ErrorCode ec;
      auto results = resolver.resolve(config_.url.host, std::to_string(config_.url.port), ec);
      if (ec) return "cannot resolve '" + config_.url.host + "': " + ec.message();
      endpoints_ = std::move(results);
    }
    auto stream = std::make_unique<beast::tcp_stream>(io_);
    stream->expires_at(deadline);
    ErrorCode ec = Await([&](auto handler) { stream->async_connect(*endpoints_, handler); });
    if (ec) {
      endpoints_.reset();  // resolve again next time: the address may have changed
      timed_out = ec == beast::error::timeout;
      return "cannot connect to " + config_.url.authority + ": " +
             (timed_out ? std::string("timed out") : ec.message());
    }
    ErrorCode ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    ++opened_;
    if (!config_.url.tls) {
      plain_ = std::move(stream);
      return "";
    }
    secure_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *tls_);
    SSL* native = secure_->native_handle();
    ErrorCode parse_error;
    asio::ip::make_address(config_.url.host, parse_error);
    bool is_ip = !parse_error;
    if (!is_ip) SSL_set_tlsext_host_name(native, config_.url.host.c_str());
    if (config_.verify_tls) {
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), config_.url.host.c_str());
      } else {
        SSL_set1_host(native, config_.url.host.c_str());
      }
    }
    ec = Await([&](auto handler) { secure_->async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
      timed_out = ec == beast::error::timeout;
      std::string why = "TLS handshake with " + config_.url.authority +
                        " failed: " + (timed_out ? std::string("timed out") : ec.message());
      Close();
      return why;
    }
    return "";
  }

  using Parser = http::response_parser<http::string_body>;

  // What one exchange left behind besides the answer in the parser.
  struct ExchangeState {
    bool write_failed = false;  // the connection cannot carry another request
    bool got_interim = false;   // the server answered something (an interim response)
  };

  // Writes the request, then reads the answer into `parser`.
  template <typename Stream>
  ErrorCode Exchange1(Stream& stream, http::request<http::string_body>& req,
                      std::optional<Parser>& parser, ExchangeState& state) {
    ErrorCode ec = Await([&](auto handler) { http::async_write(stream, req, handler); });
    if (!ec) return ReadAnswer(stream, parser, state);
    state.write_failed = true;
    // A server may refuse a request by its headers and close before it has read the body (a
    // 413): that refusal, when it can be read, is the outcome. Nothing else is: an early 2xx
    // did not see the whole request.
    ErrorCode read_ec = ReadAnswer(stream, parser, state);
    return parser->is_header_done() && parser->get().result_int() >= 300 ? read_ec : ec;
  }

  // Reads responses into `parser` until the final one: interim (1xx) responses are not the
  // server's answer.
  template <typename Stream>
  ErrorCode ReadAnswer(Stream& stream, std::optional<Parser>& parser, ExchangeState& state) {
    ErrorCode ec;
    for (int interim = 0;; ++interim) {
      parser.emplace();
      parser->body_limit(kMaxResponseBody);
      ec = Await([&](auto handler) { http::async_read(stream, buffer_, *parser, handler); });
      const unsigned status = parser->get().result_int();
      if (ec || status < 100 || status >= 200 || status == 101 || interim == kMaxInterim) {
        return ec;
      }
      state.got_interim = true;
    }
  }

  Exchange Attempt(const PlannedRequest& planned, Clock::time_point deadline, bool& got_bytes) {
    Exchange exchange;
    got_bytes = false;
    if (!IsOpen()) {
      exchange.error = Connect(deadline, exchange.timed_out);
      if (!exchange.error.empty()) return exchange;
    }
    http::request<http::string_body> req;
    req.method_string(config_.method);
    req.target(planned.target);
    req.version(11);
    req.set(http::field::host, config_.url.authority);
    req.set(http::field::user_agent, "esdb-connectors-http-sink/1.0");
    for (const auto& [name, value] : planned.headers) req.set(name, value);
    req.body() = planned.body;
    req.keep_alive(true);
    req.prepare_payload();

    std::optional<Parser> parser;
    ExchangeState state;
    Lowest().expires_at(deadline);
    ErrorCode ec = plain_ != nullptr ? Exchange1(*plain_, req, parser, state)
                                     : Exchange1(*secure_, req, parser, state);
    got_bytes = (parser && parser->got_some()) || buffer_.size() > 0 || state.got_interim;
    if (parser && parser->is_header_done()) {
      const auto& res = parser->get();
      const unsigned status = res.result_int();
      if (status < 200 || status > 599) {
        // Not an answer (a status HTTP does not have, 101, or interim responses without end).
        Close();
        exchange.error = "the server answered with status " + std::to_string(status) +
                         ", which is not an answer to a request";
        return exchange;
      }
      exchange.status = static_cast<int>(status);
      exchange.reason = std::string(res.reason());
      if (auto it = res.find(http::field::retry_after); it != res.end()) {
        exchange.retry_after = std::string(it->value());
      }
      exchange.body = res.body();
    }
    if (ec) {
      Close();
      if (exchange.status != 0 && ec == http::error::body_limit) return exchange;
      exchange.status = 0;
      exchange.timed_out = ec == beast::error::timeout;
      exchange.error = exchange.timed_out ? "no response within " +
                                                std::to_string(config_.request_timeout_ms) + " ms"
                       : ec == http::error::end_of_stream || ec == asio::error::eof
                           ? std::string("the server closed the connection")
                           : ec.message();
      return exchange;
    }
    // Bytes after the answer were not asked for (a second response?): the next request on this
    // connection would take them for its own answer.
    if (!parser->get().keep_alive() || buffer_.size() > 0 || state.write_failed) Close();
    return exchange;
  }

  const HttpConfig& config_;
  asio::io_context io_{1};
  std::optional<ssl::context> tls_;
  std::optional<tcp::resolver::results_type> endpoints_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure_;
  beast::flat_buffer buffer_{kMaxUnparsed};
  int opened_ = 0;
};

Connection::Connection(const HttpConfig& config) : impl_(std::make_unique<Impl>(config)) {}
Connection::~Connection() = default;
std::string Connection::Init() { return impl_->Init(); }
Exchange Connection::Send(const PlannedRequest& request) { return impl_->Send(request); }
int Connection::connections_opened() const { return impl_->connections_opened(); }

}  // namespace esdb_http_sink
