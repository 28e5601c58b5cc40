#include "request_plan.h"

#include <cstdio>
#include <ctime>

#include "common/cxx_boundary.h"
#include "json_line.h"  // the file-sink's record formatter, shared so both sinks agree

namespace esdb_http_sink {
namespace {

using esdb_plugin::Rfc3339;

const char* OrEmpty(const char* text) { return text != nullptr ? text : ""; }

// Headers every request of this sink carries, before the record-specific ones.
void AddCommonHeaders(const HttpConfig& config, PlannedRequest& request) {
  for (const auto& header : config.default_headers) request.headers.push_back(header);
  if (!config.authorization.empty()) {
    request.headers.emplace_back("Authorization", config.authorization);
  }
}

PlannedRequest Single(const HttpConfig& config, const esdb_sink_record& r, std::string target,
                      size_t index) {
  PlannedRequest request;
  request.target = std::move(target);
  request.first = index;
  request.count = 1;
  AddCommonHeaders(config, request);
  const char* content_type = OrEmpty(r.content_type);
  request.headers.emplace_back("Content-Type", content_type[0] != '\0'
                                                   ? HeaderSafe(content_type)
                                                   : "application/octet-stream");
  request.headers.emplace_back("esdb-log-position", std::to_string(r.commit_position));
  request.headers.emplace_back("esdb-stream", HeaderSafe(r.stream));
  request.headers.emplace_back("esdb-revision", std::to_string(r.revision));
  request.headers.emplace_back("esdb-event-id", HeaderSafe(r.event_id));
  request.headers.emplace_back("esdb-event-type", HeaderSafe(r.event_type));
  request.headers.emplace_back("esdb-created", Rfc3339(r.created_unix_us));
  request.body.assign(reinterpret_cast<const char*>(r.data), r.data_size);
  return request;
}

PlannedRequest Array(const HttpConfig& config, const esdb_sink_record* const* records, size_t first,
                     size_t count, std::string target) {
  PlannedRequest request;
  request.target = std::move(target);
  request.first = first;
  request.count = count;
  AddCommonHeaders(config, request);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("esdb-batch-count", std::to_string(count));
  request.headers.emplace_back("esdb-batch-first-position",
                               std::to_string(records[first]->commit_position));
  request.headers.emplace_back("esdb-batch-last-position",
                               std::to_string(records[first + count - 1]->commit_position));
  size_t estimate = 2;
  for (size_t i = first; i < first + count; ++i) {
    estimate += 256 + records[i]->data_size * 4 / 3 + records[i]->metadata_size * 4 / 3;
  }
  request.body.reserve(estimate);
  request.body.push_back('[');
  for (size_t i = first; i < first + count; ++i) {
    if (i > first) request.body.push_back(',');
    esdb_file_sink::AppendJsonLine(*records[i], request.body);
    request.body.pop_back();  // the line's '\n'
  }
  request.body.push_back(']');
  return request;
}

}  // namespace

std::string HeaderSafe(const char* value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char* p = OrEmpty(value); *p != '\0'; ++p) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c >= 0x7f || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::vector<PlannedRequest> PlanRequests(const HttpConfig& config,
                                         const esdb_sink_record* const* records, size_t count) {
  std::vector<PlannedRequest> plan;
  auto target_of = [&config](const esdb_sink_record& r) {
    return config.url.Expand(OrEmpty(r.stream), OrEmpty(r.event_type));
  };
  if (config.batch_size <= 1) {
    plan.reserve(count);
    for (size_t i = 0; i < count; ++i)
      plan.push_back(Single(config, *records[i], target_of(*records[i]), i));
    return plan;
  }
  if (!config.url.HasPlaceholders()) {
    if (count > 0) plan.push_back(Array(config, records, 0, count, config.url.parts[0]));
    return plan;
  }
  size_t first = 0;
  while (first < count) {
    std::string target = target_of(*records[first]);
    size_t end = first + 1;
    while (end < count && target_of(*records[end]) == target) ++end;
    plan.push_back(Array(config, records, first, end - first, std::move(target)));
    first = end;
  }
  return plan;
}

}  // namespace esdb_http_sink
