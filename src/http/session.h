// Internal to http/: one accepted connection (plain TCP or TLS), and the set of live connections
// the server closes on Stop().
#ifndef ESDB_HTTP_SESSION_H_
#define ESDB_HTTP_SESSION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/ssl/ssl_stream.hpp"
#include "http/server.h"

namespace esdb::http {

// What the registry needs of a connection, whatever its transport.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Thread-safe: closes the connection on its strand; pending operations end with an error.
  virtual void Close() = 0;
};

// Live connections, so Stop() can close them. Thread-safe.
class SessionRegistry {
 public:
  // False once CloseAll() has run: the caller must then close the connection itself.
  bool Add(uint64_t id, std::weak_ptr<SessionBase> session);
  void Remove(uint64_t id);
  // Refuses further Adds and asks every live session to close (asynchronously, on its strand).
  void CloseAll();
  size_t size();

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions_ ABSL_GUARDED_BY(mu_);
};

// What every connection of one server shares; kept alive by the connections themselves.
struct ServerShared {
  ServerOptions options;
  Handler handler;
  SessionRegistry registry;
  // Certificate and key of an HTTPS server (options.tls); null for plain HTTP.
  std::unique_ptr<boost::asio::ssl::context> tls;
};

// Serves requests on one connection until the client leaves, a limit is hit or Close() is
// called. Every member function except Close() runs on the socket's strand.
//
// `Stream` is boost::beast::tcp_stream (Session) or an ssl_stream over one (TlsSession): a TLS
// connection first completes its handshake, within header_timeout_ms of being accepted, then
// serves requests exactly as a plain one does.
template <class Stream>
class BasicSession : public SessionBase, public std::enable_shared_from_this<BasicSession<Stream>> {
 public:
  // `socket` must be bound to its own strand. For TlsSession, `shared->tls` must be set.
  BasicSession(boost::asio::ip::tcp::socket socket, uint64_t id,
               std::shared_ptr<ServerShared> shared);
  ~BasicSession() override;

  // Registers with the registry and starts (handshake, then reading). Call once, right after
  // construction.
  void Start();
  void Close() override;

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, boost::beast::tcp_stream>;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  // What to do once a response has been written.
  enum class After { kNextRequest, kReadBody, kClose, kLingerAndClose };

  boost::beast::tcp_stream& Tcp() { return boost::beast::get_lowest_layer(stream_); }
  void Handshake();
  void AwaitRequest();
  void ReadHeader();
  void OnHeader(boost::beast::error_code ec);
  void ReadBody();
  void OnBody(boost::beast::error_code ec);
  void Respond();
  // Maps a read error to a response (413/431/400) or to dropping the connection silently.
  void FailRead(boost::beast::error_code ec);
  void Reject(int status, absl::string_view code, absl::string_view message);
  template <class Message>
  void Write(std::shared_ptr<Message> message, After after);
  void LingerAndClose();
  void Drain();
  void ShutdownAndClose();
  void CloseNow();

  Stream stream_;
  const uint64_t id_;
  const std::shared_ptr<ServerShared> shared_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  bool closed_ = false;
  std::chrono::steady_clock::time_point linger_deadline_;
  size_t drained_bytes_ = 0;
};

using Session = BasicSession<boost::beast::tcp_stream>;
using TlsSession = BasicSession<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

}  // namespace esdb::http

#endif  // ESDB_HTTP_SESSION_H_
