// http-sink: its settings table and the parsed, checked configuration of one instance. Pure: no
// I/O, so validate() and open() agree on what is valid.
#ifndef ESDB_PLUGINS_HTTP_HTTP_CONFIG_H_
#define ESDB_PLUGINS_HTTP_HTTP_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "esdb/sink.h"
#include "url_template.h"

namespace esdb_http_sink {

// The settings table published to the host (static storage).
extern const esdb_sink_setting* const kSettings[];
extern const size_t kSettingsCount;

enum class Auth { kNone, kBasic, kBearer };

struct HttpConfig {
  UrlTemplate url;
  std::string method = "POST";
  // Sent with every request, in key order; names and values checked for CR/LF and token syntax.
  std::vector<std::pair<std::string, std::string>> default_headers;
  Auth auth = Auth::kNone;
  std::string authorization;  // the complete Authorization header value, empty for kNone
  int64_t request_timeout_ms = 30000;
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's trust store
  // The host's batching:batchSize (esdb_sink_host.max_batch_records): 1 sends one request per
  // event with the event's bytes as the body; more sends the records of a batch as one JSON array.
  int64_t batch_size = 1;
};

// Parses settings as the host hands them over (types already checked against kSettings, defaults
// applied). Returns "" and fills `config`, or the reason the settings cannot work,
// starting with the key at fault.
std::string ParseConfig(const esdb_sink_kv* settings, size_t count, HttpConfig& config);

}  // namespace esdb_http_sink

#endif  // ESDB_PLUGINS_HTTP_HTTP_CONFIG_H_
