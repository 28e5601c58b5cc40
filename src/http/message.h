// The request and response values that cross the HTTP server and client boundary. Plain data,
// no sockets, so routing code (management/) can be unit-tested without a server.
#ifndef ESDB_HTTP_MESSAGE_H_
#define ESDB_HTTP_MESSAGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace esdb::http {

// Who sent a request, as the host authenticated it.
struct Principal {
  enum class Kind {
    kAnonymous,  // no (valid) credentials
    kUser,       // an authenticated user
    kInsecure,   // the host runs without authentication (--insecure): no checks at all
  };
  Kind kind = Kind::kAnonymous;
  std::string name;                // kUser
  std::vector<std::string> roles;  // kUser: groups such as "$admins", "$ops"
};

struct Request {
  std::string method;  // as sent ("GET", "POST", ...); the server hands HEAD to handlers as "GET"
  std::string path;    // percent-decoded, without the query (server side)
  std::string query;   // raw, without the leading '?'; "" when absent
  // Every header field in the order received, names as spelled by the sender.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Principal principal;  // set by the host's authentication before routing

  // Value of the first field named `name` (ASCII case-insensitive), or "" if there is none.
  std::string Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  // Sent as Content-Type unless empty.
  std::string content_type = "application/json";
  // Extra fields. The server computes Content-Length / Transfer-Encoding itself and ignores
  // them here; "Connection: close" makes the server close the connection after this response.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Same lookup rule as Request::Header. Only meaningful on responses read by the client,
  // where `headers` holds every field received (Content-Type included).
  std::string Header(std::string_view name) const;
};

}  // namespace esdb::http

#endif  // ESDB_HTTP_MESSAGE_H_
