// http-sink: the `url` setting, split into where to connect and a request-target template in
// which {stream} and {event-type} are replaced per record.
#ifndef ESDB_PLUGINS_HTTP_URL_TEMPLATE_H_
#define ESDB_PLUGINS_HTTP_URL_TEMPLATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace esdb_http_sink {

struct UrlTemplate {
  bool tls = false;   // https
  std::string host;   // name or address, without IPv6 brackets
  uint16_t port = 0;  // explicit or the scheme's default
  // The Host header value: host[:port] as written in the URL (brackets kept).
  std::string authority;
  // Request target (path and query) cut at the placeholders: parts[0] {ph[0]} parts[1} ...
  std::vector<std::string> parts;
  enum class Placeholder { kStream, kEventType };
  std::vector<Placeholder> placeholders;

  bool HasPlaceholders() const { return !placeholders.empty(); }
  // The request target for one record. Substituted values are percent-encoded (every byte but
  // RFC 3986 unreserved characters), so a stream id cannot add path segments or a query.
  std::string Expand(std::string_view stream, std::string_view event_type) const;
};

// Parses "http[s]://host[:port][/path][?query]". Returns "" and fills `out`, or what is wrong.
// Placeholders may appear only in the path and query; any other '{' or '}' is an error, as are
// user info, a fragment, and whitespace, control characters or non-ASCII bytes anywhere.
std::string ParseUrlTemplate(std::string_view url, UrlTemplate& out);

// Percent-encodes every byte but A-Z a-z 0-9 - . _ ~.
std::string PercentEncode(std::string_view text);

}  // namespace esdb_http_sink

#endif  // ESDB_PLUGINS_HTTP_URL_TEMPLATE_H_
