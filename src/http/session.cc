#include "http/session.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "boost/beast/ssl.hpp"
#include "http/error_body.h"
#include "http/target.h"

namespace esdb::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
// After an error response: how long, and how much, to keep reading what the client still sends.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kMaxDrainBytes = 64 << 20;
constexpr char kServerName[] = "esdb-connectors";
// How long a closing TLS connection waits for the client's close_notify.
constexpr auto kTlsShutdownTime = std::chrono::seconds(2);

std::string ToString(beast::string_view text) { return std::string(text.data(), text.size()); }

Response Invoke(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return ErrorResponse(500, "internal", absl::StrCat("request handler failed: ", e.what()));
  } catch (...) {
    return ErrorResponse(500, "internal", "request handler failed with a non-standard exception");
  }
}

// Sets request.principal with the server's authenticate callback; its error otherwise.
absl::Status Authenticate(const ServerOptions& options, Request& request) {
  if (!options.authenticate) return absl::OkStatus();  // anonymous
  try {
    absl::StatusOr<Principal> who = options.authenticate(request);
    if (!who.ok()) return who.status();
    request.principal = *std::move(who);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("authentication failed: ", e.what()));
  } catch (...) {
    return absl::InternalError("authentication failed with a non-standard exception");
  }
}

// RFC 9110 section 5.6.2: a field name is a token. Anything else (a space, a colon, '?', a
// control character) makes the whole response unparsable or lets a handler inject fields.
bool IsToken(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        absl::string_view("!#$%&'*+-.^_`|~").find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 9110 section 5.5: a field value holds visible characters, spaces, tabs and bytes of 0x80
// and above; any other control character (CR and LF above all) would break the framing.
bool IsFieldValue(absl::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) return false;
  }
  return true;
}

// A handler's response that would corrupt the stream or break HTTP becomes an error value here.
absl::Status Validate(const Response& response) {
  if (response.status < 200 || response.status > 599) {
    return absl::InternalError(
        absl::StrCat("request handler returned invalid status ", response.status));
  }
  if (!IsFieldValue(response.content_type)) {
    return absl::InternalError("request handler returned a Content-Type with control characters");
  }
  for (const auto& [name, value] : response.headers) {
    if (!IsToken(name) || !IsFieldValue(value)) {
      return absl::InternalError(absl::StrCat("request handler returned an invalid header field \"",
                                              absl::CHexEscape(name), "\""));
    }
  }
  return absl::OkStatus();
}

bool AsksToClose(absl::string_view connection_value) {
  for (absl::string_view token : absl::StrSplit(connection_value, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(token), "close")) return true;
  }
  return false;
}

// REQUIRES: Validate(response).ok(). Throws std::invalid_argument from Beast for a body on a
// 204/304.
std::shared_ptr<bhttp::response<bhttp::string_body>> ToBeast(Response response, unsigned version,
                                                             bool keep_alive) {
  auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
  out->result(static_cast<unsigned>(response.status));
  out->version(version);
  out->set(bhttp::field::server, kServerName);
  if (!response.content_type.empty()) out->set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;  // framing is ours
    }
    if (absl::EqualsIgnoreCase(name, "Connection")) {
      if (AsksToClose(value)) keep_alive = false;
      continue;
    }
    out->insert(name, value);
  }
  out->keep_alive(keep_alive);
  out->body() = std::move(response.body);
  out->prepare_payload();
  return out;
}

Request ToRequest(bhttp::request<bhttp::string_body>& message, Target target) {
  Request request;
  request.method =
      message.method() == bhttp::verb::head ? "GET" : ToString(message.method_string());
  request.path = std::move(target.path);
  request.query = std::move(target.query);
  for (const auto& field : message) {
    request.headers.emplace_back(ToString(field.name_string()), ToString(field.value()));
  }
  request.body = std::move(message.body());
  return request;
}

template <class Stream>
Stream MakeStream(tcp::socket socket, ServerShared& shared) {
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    return Stream(std::move(socket));
  } else {
    return Stream(beast::tcp_stream(std::move(socket)), *shared.tls);
  }
}

}  // namespace

bool SessionRegistry::Add(uint64_t id, std::weak_ptr<SessionBase> session) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  sessions_.emplace(id, std::move(session));
  return true;
}

void SessionRegistry::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(id);
}

size_t SessionRegistry::size() {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void SessionRegistry::CloseAll() {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  // Outside the lock: dropping the last reference runs ~Session, which calls Remove().
  for (const auto& session : live) session->Close();
}

template <class Stream>
BasicSession<Stream>::BasicSession(tcp::socket socket, uint64_t id,
                                   std::shared_ptr<ServerShared> shared)
    : stream_(MakeStream<Stream>(std::move(socket), *shared)),
      id_(id),
      shared_(std::move(shared)) {}

template <class Stream>
BasicSession<Stream>::~BasicSession() {
  shared_->registry.Remove(id_);
}

template <class Stream>
void BasicSession<Stream>::Start() {
  // Refused once the server is stopping; the socket then closes with this object.
  if (!shared_->registry.Add(id_, this->weak_from_this())) return;
  net::dispatch(Tcp().get_executor(), [self = this->shared_from_this()] {
    if constexpr (kTls) {
      self->Handshake();
    } else {
      self->ReadHeader();
    }
  });
}

template <class Stream>
void BasicSession<Stream>::Close() {
  net::post(Tcp().get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
}

template <class Stream>
void BasicSession<Stream>::Handshake() {
  // The same deadline as a request head: a client that opens a connection and never finishes
  // its handshake (slowly or not at all) is dropped then, and meanwhile holds no thread.
  if constexpr (kTls) {
    Tcp().expires_after(std::chrono::milliseconds(shared_->options.header_timeout_ms));
    stream_.async_handshake(boost::asio::ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code ec) {
                              if (self->closed_) return;
                              if (ec) {
                                // Not TLS, an old protocol version, a certificate the client
                                // refused, or the deadline: nobody to answer.
                                self->CloseNow();
                                return;
                              }
                              self->ReadHeader();
                            });
  }
}

template <class Stream>
void BasicSession<Stream>::AwaitRequest() {
  if (closed_) return;
  if (buffer_.size() > 0) {  // the next request was pipelined behind the last one
    ReadHeader();
    return;
  }
  // Idle until the first byte; only then does the header clock start.
  Tcp().expires_after(std::chrono::milliseconds(shared_->options.idle_timeout_ms));
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
                            if (self->closed_) return;
                            if (ec) {
                              self->CloseNow();
                              return;
                            }
                            self->buffer_.commit(bytes);
                            self->ReadHeader();
                          });
}

template <class Stream>
void BasicSession<Stream>::ReadHeader() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(shared_->options.max_body_bytes);
  // One deadline for the whole head, however it trickles in: that is what stops slowloris.
  Tcp().expires_after(std::chrono::milliseconds(shared_->options.header_timeout_ms));
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

template <class Stream>
void BasicSession<Stream>::OnHeader(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    FailRead(ec);
    return;
  }
  if (parser_->is_done()) {
    Respond();
    return;
  }
  const auto& message = parser_->get();
  if (message.version() >= 11 &&
      absl::EqualsIgnoreCase(ToString(message[bhttp::field::expect]), "100-continue")) {
    auto go_on = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                      message.version());
    Write(std::move(go_on), After::kReadBody);
    return;
  }
  ReadBody();
}

template <class Stream>
void BasicSession<Stream>::ReadBody() {
  if (closed_) return;
  Tcp().expires_after(std::chrono::milliseconds(shared_->options.idle_timeout_ms));
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

template <class Stream>
void BasicSession<Stream>::OnBody(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    FailRead(ec);
    return;
  }
  Respond();
}

template <class Stream>
void BasicSession<Stream>::FailRead(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    Reject(413, "payload-too-large",
           absl::StrCat("request body exceeds the limit of ", shared_->options.max_body_bytes,
                        " bytes"));
  } else if (ec == bhttp::error::header_limit) {
    Reject(431, "headers-too-large",
           absl::StrCat("request head exceeds the limit of ", kHeaderLimit, " bytes"));
  } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
             ec.category() != bhttp::make_error_code(bhttp::error::bad_target).category()) {
    // The client left, the deadline passed (Beast already closed the socket) or the network
    // failed: nobody is there to read a response.
    CloseNow();
  } else {
    Reject(400, "bad-request", absl::StrCat("malformed HTTP request: ", ec.message()));
  }
}

template <class Stream>
void BasicSession<Stream>::Respond() {
  bhttp::request<bhttp::string_body> message = parser_->release();
  parser_.reset();
  absl::StatusOr<Target> target = ParseTarget(ToString(message.target()));
  if (!target.ok()) {
    Reject(400, "bad-request", target.status().message());
    return;
  }
  const bool head = message.method() == bhttp::verb::head;
  const unsigned version = message.version();
  const bool keep_alive = message.keep_alive();
  Request request = ToRequest(message, *std::move(target));
  Response response;
  if (absl::Status who = Authenticate(shared_->options, request); !who.ok()) {
    // Refused credentials never reach a handler, whatever the route.
    response = AccessErrorResponse(who);
  } else {
    response = Invoke(shared_->handler, request);
  }

  std::shared_ptr<bhttp::response<bhttp::string_body>> out;
  if (absl::Status valid = Validate(response); !valid.ok()) {
    response = ErrorResponse(500, "internal", valid.message());
  }
  try {
    out = ToBeast(std::move(response), version, keep_alive);
  } catch (const std::exception& e) {
    out = ToBeast(ErrorResponse(500, "internal",
                                absl::StrCat("cannot send the handler's response: ", e.what())),
                  version, keep_alive);
  }
  const After after = out->need_eof() ? After::kClose : After::kNextRequest;
  if (head) {
    // Same fields, Content-Length included, and no body.
    Write(std::make_shared<bhttp::response<bhttp::empty_body>>(std::move(out->base())), after);
  } else {
    Write(std::move(out), after);
  }
}

template <class Stream>
void BasicSession<Stream>::Reject(int status, absl::string_view code, absl::string_view message) {
  auto out =
      std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(status), 11);
  out->set(bhttp::field::server, kServerName);
  out->set(bhttp::field::content_type, "application/json");
  out->keep_alive(false);
  out->body() = ErrorJson(code, message);
  out->prepare_payload();
  Write(std::move(out), After::kLingerAndClose);
}

template <class Stream>
template <class Message>
void BasicSession<Stream>::Write(std::shared_ptr<Message> message, After after) {
  if (closed_) return;
  Tcp().expires_after(std::chrono::milliseconds(shared_->options.idle_timeout_ms));
  Message& ref = *message;
  bhttp::async_write(stream_, ref,
                     [self = this->shared_from_this(), message = std::move(message), after](
                         beast::error_code ec, size_t) {
                       if (self->closed_) return;
                       if (ec) {
                         self->CloseNow();
                         return;
                       }
                       switch (after) {
                         case After::kNextRequest:
                           self->AwaitRequest();
                           break;
                         case After::kReadBody:
                           self->ReadBody();
                           break;
                         case After::kClose:
                           self->ShutdownAndClose();
                           break;
                         case After::kLingerAndClose:
                           self->LingerAndClose();
                           break;
                       }
                     });
}

template <class Stream>
void BasicSession<Stream>::LingerAndClose() {
  // Closing with unread input makes the kernel send a reset, which can destroy the error
  // response before the client reads it; so send FIN and swallow input for a while first.
  // Under TLS this skips close_notify: the response is complete by its Content-Length, and what
  // follows is read raw and thrown away.
  beast::error_code ignored;
  Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
  linger_deadline_ = std::chrono::steady_clock::now() + kLingerTime;
  buffer_.consume(buffer_.size());
  Drain();
}

template <class Stream>
void BasicSession<Stream>::Drain() {
  if (closed_) return;
  Tcp().expires_at(linger_deadline_);
  Tcp().async_read_some(buffer_.prepare(kReadChunk),
                        [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
                          if (self->closed_) return;
                          self->drained_bytes_ += bytes;
                          if (ec || self->drained_bytes_ > kMaxDrainBytes) {
                            self->CloseNow();
                            return;
                          }
                          self->Drain();
                        });
}

template <class Stream>
void BasicSession<Stream>::ShutdownAndClose() {
  if constexpr (kTls) {
    // close_notify, so the client sees a clean end rather than a truncation; a client that never
    // answers it is not waited for long.
    Tcp().expires_after(kTlsShutdownTime);
    stream_.async_shutdown(
        [self = this->shared_from_this()](beast::error_code) { self->CloseNow(); });
  } else {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    CloseNow();
  }
}

template <class Stream>
void BasicSession<Stream>::CloseNow() {
  if (closed_) return;
  closed_ = true;
  Tcp().close();
}

template class BasicSession<beast::tcp_stream>;
template class BasicSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace esdb::http
