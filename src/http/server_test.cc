#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/client.h"
#include "http/target.h"

namespace esdb::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A plain POSIX client socket, so tests can send exactly the bytes they want (half headers,
// garbage, pipelined requests) and observe exactly when the server closes.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data.remove_prefix(static_cast<size_t>(sent));
    }
    return true;
  }

  // Appends whatever arrives within `timeout` to received(). False when nothing arrived in
  // time; sets closed() on EOF or reset.
  bool ReadSome(milliseconds timeout) {
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char chunk[65536];
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got <= 0) {
      closed_ = true;
      return true;
    }
    received_.append(chunk, static_cast<size_t>(got));
    return true;
  }

  // Reads until the server closes or the deadline passes; returns closed().
  bool ReadUntilClosed(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!closed_ && Clock::now() < deadline) {
      ReadSome(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + milliseconds(1));
    }
    return closed_;
  }

  // Reads one complete response (head and Content-Length body) and removes it from
  // received(). "" if none arrives within `timeout`.
  std::string ReadResponse(milliseconds timeout = milliseconds(5000)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const size_t head_end = received_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t body_length = ContentLength(received_.substr(0, head_end));
        const size_t total = head_end + 4 + body_length;
        if (received_.size() >= total) {
          std::string response = received_.substr(0, total);
          received_.erase(0, total);
          return response;
        }
      }
      if (closed_ || Clock::now() >= deadline) return "";
      ReadSome(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + milliseconds(1));
    }
  }

  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  static size_t ContentLength(absl::string_view head) {
    for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
      if (absl::StartsWithIgnoreCase(line, "content-length:")) {
        size_t length = 0;
        if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &length)) {
          return length;
        }
      }
    }
    return 0;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// For conditions with no event to block on (the Client owns its socket): re-checks every 5 ms
// until `done` holds or the deadline passes.
template <class Predicate>
bool PollUntil(Predicate done, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

Request Get(std::string path) {
  Request request;
  request.method = "GET";
  request.path = std::move(path);
  return request;
}

Request Post(std::string path, std::string body) {
  Request request;
  request.method = "POST";
  request.path = std::move(path);
  request.body = std::move(body);
  return request;
}

// Routes for the tests. Thread-safe, as handlers must be.
Response Route(const Request& request, std::atomic<int>& calls) {
  ++calls;
  Response response;
  if (absl::StartsWith(request.path, "/echo")) {
    response.content_type = "text/plain";
    response.body = absl::StrCat(request.method, " ", request.path, " ?", request.query,
                                 " x-test=", request.Header("x-test"), " body=", request.body);
  } else if (request.path == "/hello") {
    response.content_type = "text/plain";
    response.headers = {{"X-Extra", "1"}};
    response.body = "hello";
  } else if (request.path == "/close") {
    response.headers = {{"Connection", "close"}};
    response.body = "{}";
  } else if (request.path == "/throw") {
    throw std::runtime_error("boom");
  } else if (request.path == "/inject") {
    response.headers = {{"X-Bad", "a\r\nSet-Cookie: evil=1"}};
  } else if (request.path == "/bad-name") {
    response.headers = {{request.Header("x-name"), "v"}};
  } else if (request.path == "/bad-value") {
    response.headers = {{"X-Value", request.Header("x-value") + '\x01'}};
  } else if (request.path == "/bad-type") {
    response.content_type = "text/plain\x7f";
  } else {
    response.status = 404;
    response.body = R"({"error":"not-found"})";
  }
  return response;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Start(options, [this](const Request& request) { return Route(request, calls_); });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  uint16_t port() const { return server_->port(); }

  std::atomic<int> calls_{0};
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, RoutesMethodPathQueryHeadersAndBody) {
  StartServer();
  ASSERT_NE(port(), 0);
  Request request = Post("/echo/x", "payload");
  request.query = "a=1&b=%20";
  request.headers = {{"X-Test", "abc"}};
  absl::StatusOr<Response> response = Fetch("127.0.0.1", port(), request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->content_type, "text/plain");
  EXPECT_EQ(response->body, "POST /echo/x ?a=1&b=%20 x-test=abc body=payload");

  response = Fetch("127.0.0.1", port(), Get("/hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->Header("x-extra"), "1");
  EXPECT_EQ(response->Header("Content-Length"), "5");

  response = Fetch("127.0.0.1", port(), Get("/nowhere"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->content_type, "application/json");
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  Client client("127.0.0.1", port());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Response> response = client.Send(Post("/echo", absl::StrCat(i)));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_THAT(response->body, HasSubstr(absl::StrCat("body=", i)));
    EXPECT_TRUE(client.connected());
  }
  EXPECT_EQ(client.connections_opened(), 1);
  EXPECT_EQ(calls_, 5);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  StartServer();
  RawConnection raw(port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(
      raw.Send("GET /echo/1 HTTP/1.1\r\nHost: t\r\n\r\n"
               "GET /echo/2 HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("GET /echo/1 "));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("GET /echo/2 "));
  // Still open: a third request on the same socket works.
  ASSERT_TRUE(raw.Send("GET /echo/3 HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("GET /echo/3 "));
  EXPECT_FALSE(raw.closed());
}

TEST_F(ServerTest, ConnectionCloseFromClientOrHandlerIsHonoured) {
  StartServer();
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));
    EXPECT_THAT(raw.received(), HasSubstr("HTTP/1.1 200 OK"));
    EXPECT_THAT(raw.received(), HasSubstr("Connection: close"));
  }
  {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send("GET /close HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));
    EXPECT_THAT(raw.received(), HasSubstr("HTTP/1.1 200 OK"));
  }
  // HTTP/1.0 closes by default.
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET /hello HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));
  EXPECT_THAT(raw.received(), HasSubstr("HTTP/1.0 200 OK"));
}

TEST_F(ServerTest, ServesHundredConcurrentClients) {
  StartServer();
  constexpr int kClients = 100;
  constexpr int kRequestsEach = 10;
  std::latch all_connected(kClients);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      Client client("127.0.0.1", port());
      for (int i = 0; i < kRequestsEach; ++i) {
        const std::string body = absl::StrCat(c, "-", i);
        absl::StatusOr<Response> response = client.Send(Post("/echo", body));
        if (!response.ok() || !absl::EndsWith(response->body, "body=" + body)) ++failures;
        // Every client holds its connection open before any sends its second request, so
        // all 100 connections are open at once.
        if (i == 0) all_connected.arrive_and_wait();
      }
      if (client.connections_opened() != 1) ++failures;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(calls_, kClients * kRequestsEach);
}

TEST_F(ServerTest, BodyOverLimitGets413AndTheConnectionCloses) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);

  Client client("127.0.0.1", port());
  absl::StatusOr<Response> response = client.Send(Post("/echo", std::string(1024, 'a')));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);  // exactly at the limit is fine

  response = client.Send(Post("/echo", std::string(1025, 'a')));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->content_type, "application/json");
  EXPECT_THAT(response->body, HasSubstr(R"("error":"payload-too-large")"));
  EXPECT_THAT(response->body, HasSubstr("1024"));
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(calls_, 1);

  // Declared length over the limit: answered right after the head, before any body is sent.
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
  EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));
  EXPECT_THAT(raw.received(), HasSubstr("HTTP/1.1 413"));

  // Chunked: the limit applies to the decoded body as it arrives.
  RawConnection chunked(port());
  ASSERT_TRUE(chunked.Send(
      absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
                   "800\r\n", std::string(0x800, 'b'), "\r\n0\r\n\r\n")));
  EXPECT_TRUE(chunked.ReadUntilClosed(milliseconds(5000)));
  EXPECT_THAT(chunked.received(), HasSubstr("HTTP/1.1 413"));
  EXPECT_EQ(calls_, 1);
}

TEST_F(ServerTest, TenMebibyteBodyIsRejectedWith413) {
  StartServer();  // default limit: 4 MiB
  absl::StatusOr<Response> response =
      Fetch("127.0.0.1", port(), Post("/echo", std::string(10 << 20, 'x')));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 413);
  EXPECT_THAT(response->body, HasSubstr("payload-too-large"));
  EXPECT_EQ(calls_, 0);

  // After answering, the server keeps reading so a client that writes its whole body before
  // reading gets the 413 rather than a reset.
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send(
      absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ", 10 << 20, "\r\n\r\n")));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("HTTP/1.1 413"));
  EXPECT_TRUE(raw.Send(std::string(10 << 20, 'x')));
  EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));

  // And the server still serves.
  response = Fetch("127.0.0.1", port(), Get("/hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello");
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponseThenFinalOne) {
  StartServer();
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("HTTP/1.1 100 Continue"));
  ASSERT_TRUE(raw.Send("data"));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("body=data"));
}

TEST_F(ServerTest, HeaderTimeoutDropsHalfHeaderAndTrickle) {
  ServerOptions options;
  options.header_timeout_ms = 300;
  StartServer(options);

  const auto start = Clock::now();  // before connecting, so before the server's clock starts
  RawConnection stalled(port());
  ASSERT_TRUE(stalled.Send("GET /hello HTTP/1.1\r\nHost: t\r\n"));  // no blank line
  EXPECT_TRUE(stalled.ReadUntilClosed(milliseconds(10000)));
  EXPECT_GE(Clock::now() - start, milliseconds(300));
  EXPECT_EQ(stalled.received(), "");  // dropped, not answered

  // A client making progress, one byte at a time, is dropped on the same deadline.
  RawConnection trickle(port());
  ASSERT_TRUE(trickle.Send("GET /hello HTTP/1.1\r\nX-Slow: "));
  const auto trickle_start = Clock::now();
  while (!trickle.closed() && Clock::now() - trickle_start < milliseconds(10000)) {
    if (!trickle.Send("a")) break;  // the server is gone
    trickle.ReadSome(milliseconds(50));
  }
  EXPECT_LT(Clock::now() - trickle_start, milliseconds(5000));
  EXPECT_EQ(trickle.received(), "");

  // Meanwhile well-behaved clients are served.
  absl::StatusOr<Response> response = Fetch("127.0.0.1", port(), Get("/hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(calls_, 1);
}

TEST_F(ServerTest, IdleKeptAliveConnectionIsClosedAndClientReconnects) {
  ServerOptions options;
  options.idle_timeout_ms = 300;
  StartServer(options);

  Client client("127.0.0.1", port());
  ASSERT_TRUE(client.Send(Get("/hello")).ok());

  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_THAT(raw.ReadResponse(), HasSubstr("hello"));
  EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(10000)));
  // The client's connection went idle at about the same time; the server closes it too.
  EXPECT_TRUE(PollUntil([&] { return !client.connected(); }, milliseconds(10000)));

  absl::StatusOr<Response> response = client.Send(Get("/hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(client.connections_opened(), 2);
}

TEST_F(ServerTest, MalformedRequestsGet400AndTheConnectionCloses) {
  StartServer();
  for (const char* bad :
       {"THIS IS NOT HTTP\r\n\r\n", "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /hello HTTP/1.1\r\nContent-Length: x\r\n\r\n", "GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n", "GET relative HTTP/1.1\r\nHost: t\r\n\r\n"}) {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send(bad));
    EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000))) << bad;
    EXPECT_THAT(raw.received(), HasSubstr("HTTP/1.1 400")) << bad;
    EXPECT_THAT(raw.received(), HasSubstr(R"({"error":"bad-request","message":")")) << bad;
  }
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, OversizedHeadGets431) {
  StartServer();
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send(absl::StrCat(
      "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ", std::string(70 * 1024, 'h'), "\r\n\r\n")));
  EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));
  EXPECT_THAT(raw.received(), HasSubstr("HTTP/1.1 431"));
  EXPECT_THAT(raw.received(), HasSubstr(R"("error":"headers-too-large")"));
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, HandlerExceptionGives500AndServingContinues) {
  StartServer();
  Client client("127.0.0.1", port());
  absl::StatusOr<Response> response = client.Send(Get("/throw"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->content_type, "application/json");
  EXPECT_THAT(response->body, HasSubstr(R"("error":"internal")"));
  EXPECT_THAT(response->body, HasSubstr("boom"));

  response = client.Send(Get("/hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST_F(ServerTest, ResponseThatWouldInjectFieldsBecomes500) {
  StartServer();
  RawConnection raw(port());
  ASSERT_TRUE(raw.Send("GET /inject HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string response = raw.ReadResponse();
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 500"));
  EXPECT_THAT(response, Not(HasSubstr("Set-Cookie")));
}

// Found by tests/fuzz (http_request): a field name that is not a token ("Conn?ction") went out
// as is, and the client could not parse the response.
TEST_F(ServerTest, ResponseWithAnInvalidFieldBecomes500) {
  StartServer();
  for (const char* request : {"GET /bad-name HTTP/1.1\r\nHost: t\r\nx-name: Conn?ction\r\n\r\n",
                              "GET /bad-name HTTP/1.1\r\nHost: t\r\nx-name: a b\r\n\r\n",
                              "GET /bad-value HTTP/1.1\r\nHost: t\r\n\r\n",
                              "GET /bad-type HTTP/1.1\r\nHost: t\r\n\r\n"}) {
    RawConnection raw(port());
    ASSERT_TRUE(raw.Send(request));
    EXPECT_THAT(raw.ReadResponse(), HasSubstr("HTTP/1.1 500")) << request;
  }
}

TEST_F(ServerTest, HeadSendsStatusAndFieldsWithoutBody) {
  StartServer();
  Client client("127.0.0.1", port());
  Request head = Get("/hello");
  head.method = "HEAD";
  absl::StatusOr<Response> response = client.Send(head);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("Content-Length"), "5");
  EXPECT_EQ(response->Header("X-Extra"), "1");
  EXPECT_EQ(response->body, "");

  // The handler saw the HEAD as a GET: same length as the GET's echo of its method.
  head.path = "/echo";
  response = client.Send(head);
  ASSERT_TRUE(response.ok()) << response.status();
  absl::StatusOr<Response> get = client.Send(Get("/echo"));
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_TRUE(absl::StartsWith(get->body, "GET /echo "));
  EXPECT_EQ(response->Header("Content-Length"), absl::StrCat(get->body.size()));
  EXPECT_EQ(client.connections_opened(), 1);

  // Byte-exact: a HEAD response followed by a GET response on one socket, one body in total.
  RawConnection raw(port());
  ASSERT_TRUE(
      raw.Send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
               "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(raw.ReadUntilClosed(milliseconds(5000)));
  const std::string& bytes = raw.received();
  const size_t first_end = bytes.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos);
  EXPECT_TRUE(absl::StartsWith(bytes.substr(first_end + 4), "HTTP/1.1 200 OK")) << bytes;
  EXPECT_TRUE(absl::EndsWith(bytes, "\r\n\r\nhello")) << bytes;
}

TEST_F(ServerTest, PathIsPercentDecodedAndQueryIsNot) {
  StartServer();
  absl::StatusOr<Response> response =
      Fetch("127.0.0.1", port(), Get(PercentEncodePath("/echo/my id/ü?")));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->body, HasSubstr("GET /echo/my id/ü? ?"));

  Request request = Get("/echo/a%2Fb%25");
  request.query = "q=%41+b";
  response = Fetch("127.0.0.1", port(), request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->body, HasSubstr("GET /echo/a/b% ?q=%41+b "));

  response = Fetch("127.0.0.1", port(), Get("/echo/%zz"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 400);
}

TEST_F(ServerTest, StopWithOpenConnectionsReturnsPromptly) {
  ServerOptions options;
  options.header_timeout_ms = 60000;
  options.idle_timeout_ms = 60000;
  StartServer(options);

  std::vector<std::unique_ptr<RawConnection>> connections;
  for (const char* sent : {"", "GET /hello HTTP/1.1\r\nHost: t\r\n",
                           "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc",
                           "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"}) {
    auto raw = std::make_unique<RawConnection>(port());
    ASSERT_TRUE(raw->connected());
    ASSERT_TRUE(raw->Send(sent));
    connections.push_back(std::move(raw));
  }
  // The last one is idle after a complete exchange.
  EXPECT_THAT(connections.back()->ReadResponse(), HasSubstr("hello"));
  Client client("127.0.0.1", port());
  ASSERT_TRUE(client.Send(Get("/hello")).ok());

  const auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  for (auto& raw : connections) EXPECT_TRUE(raw->ReadUntilClosed(milliseconds(5000)));
  server_->Stop();  // idempotent

  EXPECT_FALSE(Fetch("127.0.0.1", port(), Get("/hello"), 1000).ok());
}

TEST_F(ServerTest, PortInUseIsAClearError) {
  StartServer();
  ServerOptions options;
  options.port = port();
  absl::StatusOr<std::unique_ptr<Server>> second =
      Server::Start(options, [](const Request&) { return Response{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", port())));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
}

TEST_F(ServerTest, RestartRebindsTheSamePort) {
  StartServer();
  const uint16_t first_port = port();
  // The server closes this connection first, leaving it in TIME_WAIT on the server side.
  absl::StatusOr<Response> response = Fetch("127.0.0.1", first_port, Get("/close"));
  ASSERT_TRUE(response.ok()) << response.status();
  server_.reset();

  ServerOptions options;
  options.port = first_port;
  StartServer(options);
  EXPECT_EQ(port(), first_port);
  response = Fetch("127.0.0.1", first_port, Get("/hello"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "hello");
}

TEST_F(ServerTest, RefusedAuthenticationIsAnsweredWithoutTheHandler) {
  ServerOptions options;
  options.authenticate = [](const Request& request) -> absl::StatusOr<Principal> {
    const std::string who = request.Header("x-who");
    if (who == "nobody") return absl::UnauthenticatedError("wrong password");
    if (who == "away") return absl::UnavailableError("cannot ask");
    if (who == "throws") throw std::runtime_error("auth boom");
    return Principal{Principal::Kind::kUser, who, {}};
  };
  StartServer(options);
  auto as = [](const std::string& who) {
    Request request = Get("/hello");
    request.headers = {{"x-who", who}};
    return request;
  };
  absl::StatusOr<Response> refused = Fetch("127.0.0.1", port(), as("nobody"));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->Header("WWW-Authenticate"), R"(Basic realm="esdb-connectors")");
  EXPECT_THAT(refused->body, HasSubstr("wrong password"));
  absl::StatusOr<Response> away = Fetch("127.0.0.1", port(), as("away"));
  ASSERT_TRUE(away.ok());
  EXPECT_EQ(away->status, 503);
  absl::StatusOr<Response> throws = Fetch("127.0.0.1", port(), as("throws"));
  ASSERT_TRUE(throws.ok());
  EXPECT_EQ(throws->status, 500);
  EXPECT_EQ(calls_.load(), 0);
  absl::StatusOr<Response> served = Fetch("127.0.0.1", port(), as("alice"));
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(served->status, 200);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(ServerTest, ConnectionsOverTheLimitAreClosedAtOnce) {
  ServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  RawConnection first(port()), second(port());
  ASSERT_TRUE(first.connected() && second.connected());
  // Both are accepted (and counted) before the third, which the server closes unanswered.
  RawConnection third(port());
  ASSERT_TRUE(third.connected());
  EXPECT_TRUE(third.ReadUntilClosed(milliseconds(10000)));
  EXPECT_EQ(third.received(), "");
  // The first two are served, and once one leaves there is room again.
  ASSERT_TRUE(first.Send("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_THAT(first.ReadResponse(milliseconds(10000)), HasSubstr("hello"));
  first.Close();
  EXPECT_TRUE(PollUntil(
      [&] {
        absl::StatusOr<Response> r = Fetch("127.0.0.1", port(), Get("/hello"));
        return r.ok() && r->status == 200;
      },
      milliseconds(10000)));
}

TEST(ServerOptionsTest, NonsenseIsRejected) {
  auto handler = [](const Request&) { return Response{}; };
  ServerOptions no_threads;
  no_threads.threads = 0;
  EXPECT_EQ(Server::Start(no_threads, handler).status().code(), absl::StatusCode::kInvalidArgument);
  ServerOptions no_timeout;
  no_timeout.header_timeout_ms = 0;
  EXPECT_EQ(Server::Start(no_timeout, handler).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Server::Start({}, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  ServerOptions bad_address;
  bad_address.address = "203.0.113.1";  // TEST-NET-3: not an address of this host
  EXPECT_EQ(Server::Start(bad_address, handler).status().code(), absl::StatusCode::kUnavailable);
  ServerOptions no_connections;
  no_connections.max_connections = 0;
  EXPECT_EQ(Server::Start(no_connections, handler).status().code(),
            absl::StatusCode::kInvalidArgument);
  ServerOptions bad_tls;
  bad_tls.tls = ServerOptions::Tls{"not a certificate", "not a key"};
  absl::Status tls = Server::Start(bad_tls, handler).status();
  EXPECT_EQ(tls.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tls.message(), HasSubstr("certificate"));
}

}  // namespace
}  // namespace esdb::http
