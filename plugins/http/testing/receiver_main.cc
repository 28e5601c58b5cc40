// esdb_http_test_receiver: a misbehaving HTTP receiver for the http-sink's tests and benchmark.
//
// Listens on 127.0.0.1 (port chosen by the kernel), prints "PORT <n>" on stdout, and serves each
// connection on its own thread with keep-alive. It exits when its stdin reaches end of file, so
// it never outlives the test that started it.
//
// Requests outside /_control/ are deliveries. Each one takes the next action of the schedule
// (then "ok" once the schedule is used up):
//   ok            record the events, answer 200
//   <code>        answer with that status (e.g. 503, 400), record nothing
//   <code>:<s>    the same with "Retry-After: <s>"
//   stall:<ms>    record the events, wait <ms> without answering, then close the connection
//   drop          record the events, then close the connection without answering
//   cut           close the connection without answering or recording
//   hints         record the events, send an interim 103 Early Hints, then answer 200
//   hints-cut     record the events, send an interim 103 Early Hints, then close the connection
//   twice         record the events, answer 200 and at once a second, unasked 200
//   raw:<n>       answer with status line "HTTP/1.1 <n> Odd" (any three digits), record nothing
//   early:<code>  record nothing: answer <code> as soon as the request's headers are in, and
//                 close the connection without reading the body
//   endless       record nothing, start a chunked 200 whose first chunk-size line never ends
//                 (4 MiB of it), then keep the connection open until the sender closes it
// Events are read from the esdb-* headers of a single-event request or from the items of a JSON
// array body.
//
// Control routes (never scheduled):
//   POST /_control/schedule   body: the comma-separated actions, replacing any left
//   GET  /_control/events     JSON array of recorded events {position,stream,revision,eventId,
//                             eventType} in arrival order, duplicates included
//   GET  /_control/requests   JSON array of the deliveries {method,target,headers,body,action}
//   GET  /_control/wait?distinct=<n>&timeoutMs=<t>
//                             answers once <n> distinct positions are recorded or the time is up:
//                             {"distinct":..,"events":..}
//   GET  /_control/stats      {"connections","deliveries","events","distinct","maxOpen"};
//                             connections counts those that carried at least one delivery,
//                             maxOpen the most deliveries ever awaiting their answer at once
//
// With --count-only nothing is stored: events are only counted (the esdb-batch-count header or
// one per request) and "distinct" is the plain count. For the benchmark.
//
// --port <n> listens on that port instead of one the kernel picks (a test that stops the
// receiver and starts it again on the same address). --reject <text>: a delivery whose body
// contains <text> is answered 400 and nothing of it is recorded, whatever the schedule says
// (a receiver that refuses particular records for good). --latency-ms <n>: every delivery is
// answered <n> ms after it arrived (a distant receiver, for the benchmark). --hold <n>: the first
// <n> deliveries are not answered until <n> are open at once (at most 10 s), then they are
// answered highest log position first (esdb-log-position or esdb-batch-first-position), 100 ms
// apart: proves a sender's concurrency and that it takes answers in any order.
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

struct Action {
  enum Kind { kOk, kStatus, kStall, kDrop, kCut, kHints, kHintsCut, kTwice, kRaw, kEndless, kEarly }
      kind = kOk;
  int status = 200;
  std::string retry_after;
  std::string status_digits;  // raw:<n>, as written (000 included)
  int stall_ms = 0;
  std::string text = "ok";
};

bool ParseAction(const std::string& word, Action& a) {
  a = Action();
  a.text = word;
  if (word == "ok") return true;
  if (word == "drop") {
    a.kind = Action::kDrop;
    return true;
  }
  if (word == "cut") {
    a.kind = Action::kCut;
    return true;
  }
  if (word == "hints" || word == "hints-cut" || word == "twice" || word == "endless") {
    a.kind = word == "hints"       ? Action::kHints
             : word == "hints-cut" ? Action::kHintsCut
             : word == "twice"     ? Action::kTwice
                                   : Action::kEndless;
    return true;
  }
  if (word.rfind("early:", 0) == 0) {
    a.kind = Action::kEarly;
    a.status = std::atoi(word.c_str() + 6);
    return a.status >= 100 && a.status <= 599;
  }
  if (word.rfind("raw:", 0) == 0) {
    a.kind = Action::kRaw;
    a.status_digits = word.substr(4);
    return a.status_digits.size() == 3;
  }
  if (word.rfind("stall:", 0) == 0) {
    a.kind = Action::kStall;
    a.stall_ms = std::atoi(word.c_str() + 6);
    return a.stall_ms > 0;
  }
  a.kind = Action::kStatus;
  a.status = std::atoi(word.c_str());
  size_t colon = word.find(':');
  if (colon != std::string::npos) a.retry_after = word.substr(colon + 1);
  return a.status >= 100 && a.status <= 599;
}

class State {
 public:
  State(bool count_only, std::string reject, size_t hold)
      : count_only_(count_only), reject_(std::move(reject)), hold_(hold) {}

  const std::string& reject() const { return reject_; }

  bool SetSchedule(const std::string& text) {
    std::deque<Action> actions;
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      std::string word =
          text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      while (!word.empty() && (word.back() == ' ' || word.back() == '\n')) word.pop_back();
      while (!word.empty() && word.front() == ' ') word.erase(0, 1);
      if (!word.empty()) {
        Action a;
        if (!ParseAction(word, a)) return false;
        actions.push_back(a);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    std::lock_guard<std::mutex> lock(mu_);
    schedule_ = std::move(actions);
    return true;
  }

  Action Next() {
    std::lock_guard<std::mutex> lock(mu_);
    ++deliveries_;
    if (schedule_.empty()) return Action();
    Action a = schedule_.front();
    schedule_.pop_front();
    return a;
  }

  // A delivery arrived / was answered.
  void Opened() {
    std::lock_guard<std::mutex> lock(mu_);
    if (++open_ > max_open_) max_open_ = open_;
  }
  void Closed() {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
  }

  // --hold: waits for a held delivery's turn, once all of them are open and those of higher
  // `position` have been answered; returns the turn, or -1 for a delivery that is not held.
  int AwaitTurn(uint64_t position) {
    std::unique_lock<std::mutex> lock(mu_);
    if (held_.size() >= hold_) return -1;
    held_.push_back(position);
    cv_.notify_all();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    cv_.wait_until(lock, deadline, [&] { return held_.size() >= hold_; });
    size_t turn = 0;
    for (uint64_t other : held_) turn += other > position;
    cv_.wait_until(lock, deadline, [&] { return answered_held_ >= turn; });
    if (turn > 0) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return static_cast<int>(turn);
  }
  void Answered(int turn) {
    if (turn < 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    ++answered_held_;
    cv_.notify_all();
  }

  void Connected() {
    std::lock_guard<std::mutex> lock(mu_);
    ++connections_;
  }

  void Log(const http::request<http::string_body>& req, const std::string& action) {
    if (count_only_) return;
    json headers = json::object();
    for (const auto& field : req)
      headers[std::string(field.name_string())] = std::string(field.value());
    json entry = {{"method", std::string(req.method_string())},
                  {"target", std::string(req.target())},
                  {"headers", headers},
                  {"body", req.body()},
                  {"action", action}};
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(std::move(entry));
  }

  void Record(const http::request<http::string_body>& req) {
    std::vector<json> events;
    size_t count = 1;
    if (count_only_) {
      auto it = req.find("esdb-batch-count");
      if (it != req.end()) count = std::strtoull(std::string(it->value()).c_str(), nullptr, 10);
    } else if (auto it = req.find("esdb-log-position"); it != req.end()) {
      auto field = [&req](const char* name) {
        auto f = req.find(name);
        return f == req.end() ? std::string() : std::string(f->value());
      };
      events.push_back({{"position", std::stoull(std::string(it->value()))},
                        {"stream", field("esdb-stream")},
                        {"revision", std::stoull(field("esdb-revision"))},
                        {"eventId", field("esdb-event-id")},
                        {"eventType", field("esdb-event-type")}});
    } else {
      json body = json::parse(req.body(), nullptr, false);
      if (body.is_array()) {
        for (const json& item : body) {
          events.push_back({{"position", item.value("position", json())},
                            {"stream", item.value("stream", json())},
                            {"revision", item.value("revision", json())},
                            {"eventId", item.value("eventId", json())},
                            {"eventType", item.value("eventType", json())}});
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (count_only_) {
      total_ += count;
    } else {
      for (json& e : events) {
        if (e["position"].is_number_unsigned()) distinct_.insert(e["position"].get<uint64_t>());
        events_.push_back(std::move(e));
        ++total_;
      }
    }
    cv_.notify_all();
  }

  json Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return json(events_);
  }
  json Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return json(requests_);
  }
  json Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return StatsLocked();
  }

  json Wait(size_t distinct, int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                 [&] { return Distinct() >= distinct; });
    return StatsLocked();
  }

 private:
  size_t Distinct() const { return count_only_ ? total_ : distinct_.size(); }
  json StatsLocked() const {
    return {{"connections", connections_},
            {"deliveries", deliveries_},
            {"events", total_},
            {"distinct", Distinct()},
            {"maxOpen", max_open_}};
  }

  const bool count_only_;
  const std::string reject_;
  const size_t hold_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Action> schedule_;
  std::vector<json> events_;
  std::vector<json> requests_;
  std::set<uint64_t> distinct_;
  size_t total_ = 0, connections_ = 0, deliveries_ = 0;
  size_t open_ = 0, max_open_ = 0, answered_held_ = 0;
  std::vector<uint64_t> held_;  // positions of the held deliveries, in arrival order
};

std::string QueryValue(const std::string& target, const std::string& name) {
  size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::string query = "&" + target.substr(q + 1);
  size_t at = query.find("&" + name + "=");
  if (at == std::string::npos) return "";
  size_t start = at + name.size() + 2;
  return query.substr(start, query.find('&', start) - start);
}

http::response<http::string_body> Control(State& state,
                                          const http::request<http::string_body>& req) {
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  if (path == "/_control/schedule") {
    if (!state.SetSchedule(req.body())) res.result(http::status::bad_request);
    res.body() = "{}";
  } else if (path == "/_control/events") {
    res.body() = state.Events().dump();
  } else if (path == "/_control/requests") {
    res.body() = state.Requests().dump(-1, ' ', false, json::error_handler_t::replace);
  } else if (path == "/_control/stats") {
    res.body() = state.Stats().dump();
  } else if (path == "/_control/wait") {
    res.body() = state
                     .Wait(std::strtoull(QueryValue(target, "distinct").c_str(), nullptr, 10),
                           std::atoi(QueryValue(target, "timeoutMs").c_str()))
                     .dump();
  } else {
    res.result(http::status::not_found);
  }
  return res;
}

// The log position a held delivery is ordered by.
uint64_t HeldPosition(const http::request<http::string_body>& req) {
  for (const char* name : {"esdb-log-position", "esdb-batch-first-position"}) {
    auto it = req.find(name);
    if (it != req.end()) return std::strtoull(std::string(it->value()).c_str(), nullptr, 10);
  }
  return 0;
}

void Serve(State& state, int latency_ms, tcp::socket socket) {
  bool delivering = false;  // control calls do not count as connections of the sink
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(size_t{256} << 20);
    http::read_header(socket, buffer, parser, ec);
    if (ec) break;
    const bool control = std::string(parser.get().target()).rfind("/_control/", 0) == 0;
    Action a;
    if (!control) {
      state.Opened();
      if (!delivering) state.Connected();
      delivering = true;
      a = state.Next();
      if (a.kind == Action::kEarly) {
        // Refused by its headers: answered and closed before the body is read.
        const std::string answer = "HTTP/1.1 " + std::to_string(a.status) +
                                   " Refused Early\r\nContent-Length: 0\r\n"
                                   "Connection: close\r\n\r\n";
        asio::write(socket, asio::buffer(answer), ec);
        state.Closed();
        break;
      }
    }
    http::read(socket, buffer, parser, ec);
    if (ec) break;
    http::request<http::string_body> req = parser.release();
    bool keep_alive = req.keep_alive();
    http::response<http::string_body> res;
    int turn = -1;
    if (control) {
      res = Control(state, req);
    } else {
      if (!state.reject().empty() && req.body().find(state.reject()) != std::string::npos) {
        a = Action();
        a.kind = Action::kStatus;
        a.status = 400;
        a.text = "400";
      }
      state.Log(req, a.text);
      if (a.kind == Action::kCut) {
        state.Closed();
        break;
      }
      if (a.kind == Action::kOk || a.kind == Action::kStall || a.kind == Action::kDrop ||
          a.kind == Action::kHints || a.kind == Action::kHintsCut || a.kind == Action::kTwice) {
        state.Record(req);
      }
      // The misbehaviours written byte by byte.
      if (a.kind == Action::kHints || a.kind == Action::kHintsCut) {
        asio::write(socket, asio::buffer(std::string("HTTP/1.1 103 Early Hints\r\n"
                                                     "Link: </style.css>; rel=preload\r\n\r\n")),
                    ec);
        if (a.kind == Action::kHintsCut) {
          state.Closed();
          break;
        }
        a.kind = Action::kOk;
      }
      if (a.kind == Action::kRaw || a.kind == Action::kTwice) {
        const std::string line = a.kind == Action::kRaw ? "HTTP/1.1 " + a.status_digits + " Odd"
                                                        : "HTTP/1.1 200 OK";
        std::string answer = line + "\r\nContent-Length: 2\r\n\r\nok";
        if (a.kind == Action::kTwice) answer += answer;
        asio::write(socket, asio::buffer(answer), ec);
        state.Closed();
        if (ec) break;
        continue;
      }
      if (a.kind == Action::kEndless) {
        asio::write(socket,
                    asio::buffer(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                             "\r\n2;ext=")),
                    ec);
        const std::string more(64 << 10, 'x');
        for (int i = 0; i < 64 && !ec; ++i) asio::write(socket, asio::buffer(more), ec);
        char byte;
        while (!ec) socket.read_some(asio::buffer(&byte, 1), ec);  // until the sender closes
        state.Closed();
        break;
      }
      if (a.kind == Action::kDrop) {
        state.Closed();
        break;
      }
      if (a.kind == Action::kStall) {
        std::this_thread::sleep_for(std::chrono::milliseconds(a.stall_ms));  // the misbehaviour
        state.Closed();
        break;
      }
      if (latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));
      turn = state.AwaitTurn(HeldPosition(req));
      res = http::response<http::string_body>{static_cast<http::status>(a.status), req.version()};
      res.set(http::field::content_type, "text/plain");
      if (!a.retry_after.empty()) res.set(http::field::retry_after, a.retry_after);
      res.body() = a.kind == Action::kOk ? "ok" : "scheduled answer " + a.text;
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    http::write(socket, res, ec);
    if (std::string(req.target()).rfind("/_control/", 0) != 0) {
      state.Closed();
      state.Answered(turn);
    }
    if (ec || !keep_alive) break;
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace

int main(int argc, char** argv) {
  bool count_only = false;
  unsigned short port = 0;
  std::string reject;
  int latency_ms = 0;
  size_t hold = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--count-only") == 0) {
      count_only = true;
    } else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--reject") == 0 && i + 1 < argc) {
      reject = argv[++i];
    } else if (std::strcmp(argv[i], "--latency-ms") == 0 && i + 1 < argc) {
      latency_ms = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--hold") == 0 && i + 1 < argc) {
      hold = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "esdb_http_test_receiver: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  static State state(count_only, reject, hold);
  try {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::printf("PORT %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);
    std::thread([] {
      char byte;
      while (::read(0, &byte, 1) > 0) {
      }
      std::_Exit(0);  // the test that started us is gone or done
    }).detach();
    for (;;) {
      tcp::socket socket(io);
      acceptor.accept(socket);
      std::thread([latency_ms, s = std::move(socket)]() mutable {
        Serve(state, latency_ms, std::move(s));
      }).detach();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "esdb_http_test_receiver: %s\n", e.what());
    return 1;
  }
}
