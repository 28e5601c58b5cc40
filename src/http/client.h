// A minimal synchronous HTTP/1.1 client for tests, tools and benchmarks (plain TCP, or TLS with
// OpenSSL).
#ifndef ESDB_HTTP_CLIENT_H_
#define ESDB_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "http/message.h"

namespace esdb::http {

// HTTPS: the server's certificate must chain to `ca_pem` (PEM text; empty: the system's roots)
// and name the host the client connects to (a DNS name or an IP address).
struct ClientTls {
  std::string ca_pem;
};

// Sends requests over one kept-alive connection, opening it on first use and again whenever the
// server has closed it (the client checks before each request, and closes when a response says
// "Connection: close"). It never resends a request whose exchange failed.
//
// The target sent is `path` verbatim, plus '?' and `query` when the query is not empty: encode
// the path yourself (PercentEncodePath in http/target.h) when it may hold reserved bytes.
// Host, User-Agent and Content-Length are added unless `headers` set them. A returned Response
// holds every received field in `headers`, and Content-Type also in `content_type`.
//
// Errors: Unavailable when the connection cannot be opened (TLS handshake and certificate check
// included) or breaks, DeadlineExceeded when one step (connect, handshake, send, receive) takes
// longer than timeout_ms, Internal for a malformed response.
// After an error the connection is closed.
//
// Thread-compatible: one request at a time per Client.
class Client {
 public:
  Client(std::string host, uint16_t port, int timeout_ms = 10000,
         std::optional<ClientTls> tls = std::nullopt);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  absl::StatusOr<Response> Send(const Request& request);

  // Closes the connection, if open; the next Send opens a new one.
  void Close();
  // True while a connection is open and the server has not closed it.
  bool connected() const;
  // Connections opened so far, to check that requests reuse one.
  int connections_opened() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection, closed afterwards.
absl::StatusOr<Response> Fetch(const std::string& host, uint16_t port, const Request& req,
                               int timeout_ms = 10000, std::optional<ClientTls> tls = std::nullopt);

}  // namespace esdb::http

#endif  // ESDB_HTTP_CLIENT_H_
