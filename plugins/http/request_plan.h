// http-sink: what a batch of records turns into on the wire. Pure formatting, no I/O.
//
// With batching:batchSize 1 every record is one request whose body is the event's bytes as
// stored (Content-Type: the event's content type) and whose headers say what a receiver needs to
// drop duplicates and route the event:
//   esdb-log-position  commit position in $all (the de-duplication key)
//   esdb-stream, esdb-revision, esdb-event-id, esdb-event-type, esdb-created (RFC 3339, UTC)
// Text header values percent-encode control characters, '%', and bytes >= 0x80, so that no
// stream id can inject a header.
//
// With a larger batch size, runs of consecutive records that map to the same URL (always the
// whole batch when the url has no placeholders) become one request whose body is a JSON array
// (Content-Type: application/json) of objects in the file-sink's line format:
//   {"position","stream","revision","eventId","eventType","contentType","data","metadata",
//    "created"}
// plus headers esdb-batch-count, esdb-batch-first-position and esdb-batch-last-position.
//
// Requests of one batch are sent in order; the batch is acknowledged only when all succeed.
#ifndef ESDB_PLUGINS_HTTP_REQUEST_PLAN_H_
#define ESDB_PLUGINS_HTTP_REQUEST_PLAN_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "esdb/sink.h"
#include "http_config.h"

namespace esdb_http_sink {

struct PlannedRequest {
  std::string target;                                        // origin-form request target
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host and Content-Length
  std::string body;
  size_t first = 0, count = 0;  // which records of the batch it carries
};

// Plans the requests for records[0..count). May throw std::bad_alloc.
std::vector<PlannedRequest> PlanRequests(const HttpConfig& config,
                                         const esdb_sink_record* const* records, size_t count);

// `value` made safe for a header: see the file comment.
std::string HeaderSafe(const char* value);

}  // namespace esdb_http_sink

#endif  // ESDB_PLUGINS_HTTP_REQUEST_PLAN_H_
