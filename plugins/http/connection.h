// http-sink: one kept-alive HTTP/1.1 connection (plain or TLS) to the configured server, used
// synchronously on the calling thread.
//
// Each Send runs Boost.Beast's asynchronous operations on the connection's own io_context, on
// the caller's thread, under one deadline (requestTimeoutMs) that covers connecting, the TLS
// handshake, sending and receiving. When it passes the socket is closed and Send reports a
// timeout, so Send never blocks longer than that; the one exception is name resolution
// (getaddrinfo), which the system bounds by its own resolver timeouts and whose result is kept
// until a connection attempt fails.
//
// The connection stays open between requests unless the server says "Connection: close" or an
// exchange fails. Before reusing it, Send checks whether the server has closed it meanwhile; a
// request that fails on a reused connection before any response byte arrived is sent once more
// on a fresh one (the usual race with a server's idle timeout).
//
// Thread-compatible: one Send at a time.
#ifndef ESDB_PLUGINS_HTTP_CONNECTION_H_
#define ESDB_PLUGINS_HTTP_CONNECTION_H_

#include <memory>
#include <string>

#include "http_config.h"
#include "request_plan.h"

namespace esdb_http_sink {

struct Exchange {
  int status = 0;           // HTTP status; 0 when no complete response head arrived
  std::string reason;       // the status line's reason phrase
  std::string retry_after;  // the Retry-After field, if any
  std::string body;         // the response body, or as much of it as arrived (at most 1 MiB)
  std::string error;        // why no response arrived; empty when status != 0
  bool timed_out = false;
};

class Connection {
 public:
  // `config` must outlive the connection. Nothing is opened yet.
  explicit Connection(const HttpConfig& config);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares TLS (trust store, CA file). Returns "" or why it cannot work, naming the setting.
  std::string Init();

  // Sends one request and reads the response. Never throws except std::bad_alloc.
  Exchange Send(const PlannedRequest& request);

  // Connections opened so far (for tests of keep-alive).
  int connections_opened() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace esdb_http_sink

#endif  // ESDB_PLUGINS_HTTP_CONNECTION_H_
