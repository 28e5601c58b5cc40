// A small HTTP/1.1 server (Boost.Beast over Asio, optionally over TLS with OpenSSL) shared by the
// dev node and the side-car.
//
// Connections are served asynchronously by a fixed pool of threads; each connection is handled
// on its own strand, so one connection's requests are processed strictly one after another,
// while different connections proceed in parallel. Keep-alive is the HTTP/1.1 default and
// pipelined requests are answered in order.
//
// Protection against misbehaving clients (all of these close the connection):
//   - the request head (request line + fields, at most 64 KiB, else 431) must be complete within
//     header_timeout_ms of the connection opening or of the first byte of the request arriving;
//     a slow or stalled head is dropped without a response;
//   - a keep-alive connection with no request in progress is closed after idle_timeout_ms;
//   - the body must arrive within idle_timeout_ms after the head, and each response must be
//     written within idle_timeout_ms;
//   - a body over max_body_bytes (declared or chunked) gets 413 {"error":"payload-too-large"};
//   - an unparsable request or an invalid request target gets 400 {"error":"bad-request"};
//   - with TLS, the handshake must complete within header_timeout_ms of the connection being
//     accepted (a client that never finishes it holds no thread meanwhile);
//   - at most max_connections connections are served at once; further ones are closed as soon as
//     they are accepted, before any handshake.
// After a 4xx the server stops sending, reads and discards what the client is still sending for
// up to two seconds (so the client can read the error instead of a reset), then closes.
#ifndef ESDB_HTTP_SERVER_H_
#define ESDB_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "http/message.h"

namespace esdb::http {

// Turns one request into one response.
//
// Runs on one of the server's threads, possibly on several threads at once for different
// connections, so it must be thread-safe. While it runs, the thread serves nothing else; with
// `threads` slow handlers in flight every other connection waits. Keep it short: blocking
// briefly (a database read, a node call) is fine, waiting for minutes is not.
//
// A HEAD request reaches the handler as method "GET"; the server sends the resulting status and
// fields (Content-Length included) without the body.
//
// An exception escaping the handler becomes 500 {"error":"internal","message":<what()>} and the
// connection stays usable. So does a response with a status outside 200..599 or a header field
// containing CR/LF.
using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  // IP address or host name to listen on; a name is resolved and its first address used.
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: the kernel picks a free port; read it back with Server::port()
  size_t max_body_bytes = 4 << 20;
  int header_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  int threads = 2;
  size_t max_connections = 1024;
  // Decides who sent each request (Request::principal) before the handler sees it, e.g. from
  // its Authorization field. An error answers the request without calling the handler
  // (AccessErrorResponse in error_body.h: 401 for Unauthenticated, 503 for Unavailable, ...).
  // Unset: every request is anonymous. Same threading as the handler, and the same advice: keep
  // it short (cache what is slow to check).
  std::function<absl::StatusOr<Principal>(const Request&)> authenticate;
  // Serve HTTPS instead of HTTP. PEM text: the certificate chain (the server's certificate
  // first, then any intermediates) and its private key. TLS 1.2 or later, no renegotiation, no
  // compression.
  struct Tls {
    std::string certificate_chain_pem;
    std::string private_key_pem;
  };
  std::optional<Tls> tls;
};

class Server {
 public:
  // Binds and listens (with SO_REUSEADDR, so a restart can rebind while old connections are in
  // TIME_WAIT), then starts the threads. InvalidArgument for nonsensical options (a certificate
  // or key OpenSSL cannot load, or that do not belong together, included); Unavailable,
  // naming the address and port, when the address cannot be resolved or bound (e.g. in use).
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);

  ~Server();  // calls Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually listened on.
  uint16_t port() const;

  // Stops accepting, closes every connection (a request being handled finishes first; its
  // response may not be sent) and joins the threads. Idempotent and thread-safe.
  // REQUIRES: not called from a handler (it would wait for itself).
  void Stop();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace esdb::http

#endif  // ESDB_HTTP_SERVER_H_
