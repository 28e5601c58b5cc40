// Talking to a running dev node over real sockets: requests with JSON replies, event appends in
// the classic /streams format, and waiting for a remote effect with a deadline.
#ifndef ESDB_TESTS_E2E_NODE_HTTP_H_
#define ESDB_TESTS_E2E_NODE_HTTP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "http/client.h"
#include "nlohmann/json.hpp"

namespace esdb::e2e {

// One HTTP exchange. status is 0 when no response arrived (then `body` says why), so a test can
// assert on it directly and see the transport error in the failure message.
struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  nlohmann::json json;  // the parsed body; discarded (is_discarded()) when it is not JSON
  std::vector<std::pair<std::string, std::string>> headers;

  std::string Header(const std::string& name) const;
  // True when the body is the API's error shape {"error": code, "message": text}.
  bool IsErrorBody() const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// Requests to one node over one kept-alive connection, which is reopened as needed (so it
// survives node restarts on the same port). HTTPS with `tls` (for a secure node: its CA), and
// HTTP Basic credentials on every request once SetCredentials was called (a request's own
// Authorization header wins). Thread-compatible: one request at a time.
class NodeHttp {
 public:
  explicit NodeHttp(uint16_t port, int timeout_ms = 30000,
                    std::optional<http::ClientTls> tls = std::nullopt);

  void SetCredentials(const std::string& user, const std::string& password);
  void ClearCredentials() { authorization_.clear(); }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& content_type = "", const Headers& headers = {});
  Reply Get(const std::string& target) { return Call("GET", target); }
  // POST/PUT with a JSON body (Content-Type application/json unless the body is empty).
  Reply Post(const std::string& target, const std::string& json_body = "");
  Reply Put(const std::string& target, const std::string& json_body);
  Reply Delete(const std::string& target) { return Call("DELETE", target); }

  // GET /connectors/{id} (status 404 when it does not exist).
  Reply Connector(const std::string& id) { return Get("/connectors/" + id); }
  // The connector's "state" ("" when it cannot be read).
  std::string StateOf(const std::string& id);

 private:
  const uint16_t port_;
  http::Client client_;
  std::string authorization_;  // "Basic ..." or empty
};

// An event for POST /streams/{stream}.
struct NewEvent {
  std::string event_id;
  std::string event_type;
  nlohmann::json data;
};

// A version-4 UUID text that is unique per (a, b), so tests know every id they wrote.
std::string TestEventId(uint32_t a, uint64_t b);
// `count` events of `type` with ids TestEventId(tag, first..first+count-1) and data {"n": i}.
std::vector<NewEvent> MakeEvents(uint32_t tag, uint64_t first, int count,
                                 const std::string& type = "TestEvent");
// The body of a classic append: a JSON array of {eventId, eventType, data}.
std::string EventsBody(const std::vector<NewEvent>& events);
// POST /streams/{stream} with Content-Type application/vnd.eventstore.events+json and, when
// given, ES-ExpectedVersion.
Reply AppendEvents(NodeHttp& http, const std::string& stream, const std::vector<NewEvent>& events,
                   std::optional<std::string> expected_version = std::nullopt);

// Calls `done` until it returns true or `timeout` passes; true when it did. For effects that
// happen in another process, which can only be observed by asking again.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout,
               absl::Duration every = absl::Milliseconds(10));

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_NODE_HTTP_H_
