#include "http/client.h"

#include <poll.h>

#include <chrono>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "boost/beast/ssl.hpp"
#include "openssl/ssl.h"

namespace esdb::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr uint32_t kResponseHeaderLimit = 1 << 20;
constexpr char kUserAgent[] = "esdb-http-client";

std::string ToString(beast::string_view text) { return std::string(text.data(), text.size()); }

absl::Status ToStatus(const error_code& ec, absl::string_view step, absl::string_view where) {
  const std::string message =
      absl::StrCat("HTTP client cannot ", step, " ", where, ": ", ec.message());
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(message);
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return absl::InternalError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

class Client::Impl {
 public:
  Impl(std::string host, uint16_t port, int timeout_ms, std::optional<ClientTls> tls)
      : host_(std::move(host)),
        port_(port),
        timeout_(timeout_ms),
        where_(absl::StrContains(host_, ':') ? absl::StrCat("[", host_, "]:", port_)
                                             : absl::StrCat(host_, ":", port_)),
        tls_(std::move(tls)) {}

  absl::StatusOr<Response> Send(const Request& request) {
    if (open() && !Reusable()) Close();
    if (!open()) {
      if (absl::Status connected = Connect(); !connected.ok()) return connected;
    }
    bhttp::request<bhttp::string_body> message = ToBeast(request);

    tcp_stream().expires_after(timeout_);
    const error_code write_ec = WithStream([&](auto& stream) {
      return Await([&](auto handler) { bhttp::async_write(stream, message, std::move(handler)); });
    });
    // Even when sending failed, the server may have answered early (say, 413 before reading an
    // oversized body) and closed; that answer is worth more than the write error.
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kResponseHeaderLimit);
    parser.body_limit(boost::none);
    if (message.method() == bhttp::verb::head) parser.skip(true);
    tcp_stream().expires_after(timeout_);
    const error_code read_ec = WithStream([&](auto& stream) {
      return Await(
          [&](auto handler) { bhttp::async_read(stream, buffer_, parser, std::move(handler)); });
    });
    if (read_ec) {
      Close();
      return write_ec ? ToStatus(write_ec, "send to", where_)
                      : ToStatus(read_ec, "read a response from", where_);
    }
    bhttp::response<bhttp::string_body> received = parser.release();
    Response response;
    response.status = static_cast<int>(received.result_int());
    response.content_type = ToString(received[bhttp::field::content_type]);
    for (const auto& field : received) {
      response.headers.emplace_back(ToString(field.name_string()), ToString(field.value()));
    }
    response.body = std::move(received.body());
    if (write_ec || received.need_eof()) Close();
    return response;
  }

  void Close() {
    if (!open()) return;
    error_code ignored;
    tcp_stream().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_stream().close();
    plain_.reset();
    secure_.reset();
    buffer_.clear();
  }

  bool connected() { return open() && Reusable(); }
  int connections_opened() const { return connections_opened_; }

 private:
  // Runs one asynchronous operation to completion on this thread. `start` receives the
  // completion handler; the result is the operation's error code.
  template <class Start>
  error_code Await(Start&& start) {
    error_code result = net::error::operation_aborted;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  bool open() const { return plain_.has_value() || secure_.has_value(); }
  // REQUIRES: open().
  beast::tcp_stream& tcp_stream() {
    return secure_.has_value() ? beast::get_lowest_layer(*secure_) : *plain_;
  }
  // Calls `f` with the open stream, plain or TLS. REQUIRES: open().
  template <class F>
  error_code WithStream(F&& f) {
    return secure_.has_value() ? f(*secure_) : f(*plain_);
  }

  // The TLS settings, made on first use: trusted roots and modern protocol versions only.
  absl::Status PrepareTls() {
    if (tls_context_ != nullptr) return absl::OkStatus();
    auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
    error_code ec;
    context->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                             net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                             net::ssl::context::no_tlsv1_1,
                         ec);
    context->set_verify_mode(net::ssl::verify_peer, ec);
    if (tls_->ca_pem.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->add_certificate_authority(net::buffer(tls_->ca_pem), ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTP client cannot load the trusted certificates: ", ec.message()));
    }
    tls_context_ = std::move(context);
    return absl::OkStatus();
  }

  absl::Status Connect() {
    error_code ec;
    tcp::resolver resolver(ioc_);
    const auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
    if (ec) return ToStatus(ec, "resolve", where_);
    if (tls_.has_value()) {
      if (absl::Status s = PrepareTls(); !s.ok()) return s;
      secure_.emplace(ioc_, *tls_context_);
      // The certificate must name the host we asked for (an IP address is matched as such).
      secure_->set_verify_callback(net::ssl::host_name_verification(host_), ec);
      error_code not_an_address;
      net::ip::make_address(host_, not_an_address);
      if (not_an_address && !SSL_set_tlsext_host_name(secure_->native_handle(), host_.c_str())) {
        Close();
        return absl::InternalError(
            absl::StrCat("HTTP client cannot set the TLS server name for ", where_));
      }
    } else {
      plain_.emplace(ioc_);
    }
    tcp_stream().expires_after(timeout_);
    ec = Await([&](auto handler) { tcp_stream().async_connect(endpoints, std::move(handler)); });
    if (ec) {
      Close();
      return ToStatus(ec, "connect to", where_);
    }
    if (secure_.has_value()) {
      tcp_stream().expires_after(timeout_);
      ec = Await([&](auto handler) {
        secure_->async_handshake(net::ssl::stream_base::client, std::move(handler));
      });
      if (ec) {
        Close();
        return ToStatus(ec, "complete a TLS handshake with", where_);
      }
    }
    ++connections_opened_;
    return absl::OkStatus();
  }

  // A kept-alive connection is reusable only if nothing arrived since the last response: any
  // readable event is the server's FIN or reset (it timed us out) or bytes nobody asked for.
  bool Reusable() {
    if (buffer_.size() > 0) return false;
    pollfd poll_fd{tcp_stream().socket().native_handle(), POLLIN, 0};
    return ::poll(&poll_fd, 1, 0) == 0;
  }

  bhttp::request<bhttp::string_body> ToBeast(const Request& request) const {
    bhttp::request<bhttp::string_body> message;
    message.version(11);
    message.method_string(request.method.empty() ? "GET" : request.method);
    message.target(request.query.empty() ? request.path
                                         : absl::StrCat(request.path, "?", request.query));
    for (const auto& [name, value] : request.headers) {
      if (absl::EqualsIgnoreCase(name, "Content-Length") ||
          absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
        continue;  // framing follows the body
      }
      message.insert(name, value);
    }
    if (message.find(bhttp::field::host) == message.end()) message.set(bhttp::field::host, where_);
    if (message.find(bhttp::field::user_agent) == message.end()) {
      message.set(bhttp::field::user_agent, kUserAgent);
    }
    message.body() = request.body;
    message.prepare_payload();
    return message;
  }

  const std::string host_;
  const uint16_t port_;
  const std::chrono::milliseconds timeout_;
  const std::string where_;
  const std::optional<ClientTls> tls_;
  net::io_context ioc_{1};
  std::unique_ptr<net::ssl::context> tls_context_;  // made by PrepareTls()
  // At most one is set: the open connection.
  std::optional<beast::tcp_stream> plain_;
  std::optional<TlsStream> secure_;
  beast::flat_buffer buffer_;
  int connections_opened_ = 0;
};

Client::Client(std::string host, uint16_t port, int timeout_ms, std::optional<ClientTls> tls)
    : impl_(std::make_unique<Impl>(std::move(host), port, timeout_ms, std::move(tls))) {}

Client::~Client() = default;

absl::StatusOr<Response> Client::Send(const Request& request) { return impl_->Send(request); }

void Client::Close() { impl_->Close(); }

bool Client::connected() const { return impl_->connected(); }

int Client::connections_opened() const { return impl_->connections_opened(); }

absl::StatusOr<Response> Fetch(const std::string& host, uint16_t port, const Request& req,
                               int timeout_ms, std::optional<ClientTls> tls) {
  Client client(host, port, timeout_ms, std::move(tls));
  return client.Send(req);
}

}  // namespace esdb::http
