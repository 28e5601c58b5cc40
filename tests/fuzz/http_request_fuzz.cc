// The HTTP server's request handling (http/session.h, the code behind http::Server) on any
// bytes a client can send: Beast's parser with the limits the server sets (head size, body size
// from ServerOptions' defaults, as the hosts use them), target parsing, keep-alive and
// pipelining, 100-continue, the error answers and the checks on a handler's response.
//
// The bytes are written into one end of a socket pair whose other end is served by a real
// Session, on one thread, then the client half-closes and reads until the server closes.
// The handler echoes the request as JSON and, when asked through x-fuzz-* fields, answers with
// the status, content type or extra field given, or throws: that reaches the server's checks
// on what handlers return.
//
// Properties: the handler only ever sees a request with a method, a decoded path (no NUL) and
// field names and values without CR or LF; every response the server writes parses, and each
// one that says it is JSON is valid JSON.
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/local/stream_protocol.hpp"
#include "boost/asio/read.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "fuzz/fuzz_check.h"
#include "http/server.h"
#include "http/session.h"
#include "nlohmann/json.hpp"

namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using esdb::http::Request;
using esdb::http::Response;

bool HasLineBreak(const std::string& text) {
  return text.find_first_of("\r\n") != std::string::npos;
}

// "\r" and "\n" written out in a field value become CR and LF: a handler could put those into
// its response, and the server must refuse to send them.
std::string WithLineBreaks(std::string text) {
  for (auto [from, to] : {std::pair{"\\r", "\r"}, std::pair{"\\n", "\n"}}) {
    for (size_t at; (at = text.find(from)) != std::string::npos;) text.replace(at, 2, to);
  }
  return text;
}

Response Echo(const Request& request) {
  FUZZ_CHECK(!request.method.empty());
  FUZZ_CHECK(request.path.find('\0') == std::string::npos, "NUL in the decoded path");
  for (const auto& [name, value] : request.headers) {
    FUZZ_CHECK(!name.empty() && !HasLineBreak(name) && !HasLineBreak(value),
               "a field with CR/LF reached the handler");
  }
  if (!request.Header("x-fuzz-throw").empty())
    throw std::runtime_error(request.Header("x-fuzz-throw"));
  Response response;
  if (int status = 0; absl::SimpleAtoi(request.Header("x-fuzz-status"), &status)) {
    response.status = status;
  }
  for (const auto& [name, value] : request.headers) {
    if (absl::EqualsIgnoreCase(name, "x-fuzz-content-type")) {
      response.content_type = WithLineBreaks(value);
    }
    if (absl::EqualsIgnoreCase(name, "x-fuzz-field")) {  // "name: value"
      const std::string field = WithLineBreaks(value);
      const size_t colon = field.find(':');
      response.headers.emplace_back(field.substr(0, colon),
                                    colon == std::string::npos ? "" : field.substr(colon + 1));
    }
  }
  nlohmann::json echo = {{"method", request.method},
                         {"path", request.path},
                         {"query", request.query},
                         {"body", request.body}};
  response.body = echo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

// Every response in `bytes` parses; JSON bodies are JSON. HEAD answers carry a Content-Length
// without a body, which a parser cannot know without the requests, so `head` skips the check.
void CheckResponses(const std::string& bytes, bool head) {
  if (bytes.empty() || head) return;
  FUZZ_CHECK(absl::StartsWith(bytes, "HTTP/1."), "the output is not an HTTP response");
  boost::beast::flat_buffer buffer;
  net::const_buffer rest(bytes.data(), bytes.size());
  while (rest.size() > 0) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    parser.header_limit(1 << 20);  // the server puts no limit on a handler's fields
    boost::beast::error_code ec;
    size_t used = 0;
    while (!parser.is_done() && !ec && rest.size() > 0) {
      const size_t n = parser.put(rest, ec);
      rest += n;
      used += n;
      if (ec == bhttp::error::need_more) ec = {};
      if (n == 0 && !ec && !parser.is_done()) break;
    }
    if (!parser.is_done() && !ec) parser.put_eof(ec);
    FUZZ_CHECK(!ec, "a response does not parse: %s", ec.message().c_str());
    const auto& message = parser.get();
    const unsigned status = message.result_int();
    FUZZ_CHECK(status == 100 || (status >= 200 && status <= 599), "status %u", status);
    if (absl::StartsWith(std::string(message[bhttp::field::content_type]), "application/json") &&
        status != 100 && !message.body().empty()) {
      FUZZ_CHECK(nlohmann::json::accept(message.body()), "a JSON response is not JSON");
    }
    if (used == 0) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  net::io_context ioc(1);

  // The server side, exactly as Server::Impl sets a connection up, with the default limits.
  auto shared = std::make_shared<esdb::http::ServerShared>();
  shared->handler = &Echo;
  net::ip::tcp::socket server_socket(net::make_strand(ioc));
  server_socket.assign(net::ip::tcp::v4(), fds[0]);
  std::make_shared<esdb::http::Session>(std::move(server_socket), 1, shared)->Start();

  net::local::stream_protocol::socket client(ioc);
  client.assign(net::local::stream_protocol(), fds[1]);
  std::string output;
  net::async_write(client, net::buffer(data, size), [&](boost::system::error_code, size_t) {
    boost::system::error_code ignored;
    client.shutdown(net::socket_base::shutdown_send, ignored);
  });
  net::async_read(client, net::dynamic_buffer(output), [&](boost::system::error_code, size_t) {
    boost::system::error_code ignored;
    client.close(ignored);
  });
  ioc.run();
  CheckResponses(output, esdb::fuzz::AsText(data, size).find("HEAD") != std::string_view::npos);
  return 0;
}
