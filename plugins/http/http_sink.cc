// http-sink: delivers records to an HTTP(S) endpoint, one request per event or JSON arrays per
// batch (see request_plan.h for what goes on the wire, connection.h for the transport).
//
// With one write in flight (batching:maxInFlight 1, the default) write() completes synchronously,
// on the caller's thread, before it returns: requests of a batch go out one after another on one
// kept-alive connection, each bounded by requestTimeoutMs. The plugin declares
// ESDB_SINK_PIPELINED_WRITES: when the host says it keeps up to N > 1 writes outstanding
// (esdb_sink_host.max_in_flight), write() hands the batch to a WritePool and returns; each write
// then goes out on a connection of its own, as above, and completes from that worker's thread,
// in whatever order the answers come. The host orders the checkpoint.
//
// Outcomes: every request 2xx -> OK. 408, 429, 5xx, connection failures and timeouts -> RETRY
// (the host resends the whole batch, so a receiver may see a prefix of it again; it drops
// duplicates by position). Any other status (4xx, or 1xx/3xx, which the sink does not follow)
// -> FATAL, with the status and the start of the response body in the message.
//
// Retry-After on any retried status (seconds or an HTTP date) is honoured: the next write() waits
// until that moment before sending anything (with writes in flight, every write that starts sending
// before it). The wait is capped at requestTimeoutMs, so that a write never blocks much longer
// than one request could.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "common/cxx_boundary.h"
#include "connection.h"
#include "esdb/sink.h"
#include "http_config.h"
#include "request_plan.h"
#include "write_pool.h"

namespace esdb_http_sink {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBodyExcerpt = 200;

struct HttpSink {
  const esdb_sink_host* host = nullptr;
  HttpConfig config;
  // One write in flight: the connection, used on the caller's thread. Several: null, and `pool`
  // holds the connections.
  std::unique_ptr<Connection> connection;
  std::mutex mu;
  Clock::time_point not_before{};   // guarded by mu: from the last Retry-After
  std::unique_ptr<WritePool> pool;  // last: its workers are joined before the rest goes

  Clock::time_point NotBefore() {
    std::lock_guard<std::mutex> lock(mu);
    return not_before;
  }
  void DelayUntil(Clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu);
    not_before = at;
  }

  void Log(esdb_sink_log_level level, const std::string& line) const {
    if (host != nullptr && ESDB_HAS_FUNCTION(esdb_sink_host, host, log)) {
      host->log(host->ctx, level, line.c_str());
    }
  }
};

using esdb_plugin::CopyError;

// Printable ASCII only: the message ends up in JSON and logs, and must not carry broken UTF-8.
std::string Excerpt(const std::string& body) {
  std::string out;
  for (size_t i = 0; i < body.size() && i < kBodyExcerpt; ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    out.push_back(c >= 0x20 && c < 0x7f    ? static_cast<char>(c)
                  : c == '\n' || c == '\t' ? ' '
                                           : '?');
  }
  if (body.size() > kBodyExcerpt) out += "...";
  return out;
}

// Where a request went, for messages: scheme, authority and path, but not the query, which may
// hold an API key.
std::string Where(const HttpConfig& config, const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  return config.method + " " + (config.url.tls ? "https://" : "http://") + config.url.authority +
         path;
}

// Retry-After as a delay: delta-seconds or an IMF-fixdate. Negative when absent or unreadable.
std::chrono::milliseconds RetryAfter(const std::string& value) {
  if (value.empty()) return std::chrono::milliseconds(-1);
  bool digits = true;
  for (char c : value) digits &= c >= '0' && c <= '9';
  if (digits) {
    if (value.size() > 9) return std::chrono::hours(24);  // absurd; the cap applies anyway
    return std::chrono::seconds(std::stol(value));
  }
  struct tm tm {};
  const char* end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::chrono::milliseconds(-1);
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto delay =
      std::chrono::duration_cast<std::chrono::milliseconds>(at - std::chrono::system_clock::now());
  return delay.count() < 0 ? std::chrono::milliseconds(0) : delay;
}

bool IsRetryable(int status) { return status == 408 || status == 429 || status >= 500; }

esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err, size_t err_size) {
  return esdb_plugin::Guarded("cannot check the settings", ESDB_SINK_INVALID_CONFIG, err, err_size, [&]() -> esdb_sink_status {
    HttpConfig config;
    std::string why = ParseConfig(settings, count, config);
    if (why.empty()) return ESDB_SINK_OK;
    CopyError(why, err, err_size);
    return ESDB_SINK_INVALID_CONFIG;
  });
}

esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                      esdb_sink_instance** out, char* err, size_t err_size) {
  return esdb_plugin::Guarded("open failed", ESDB_SINK_FATAL, err, err_size, [&]() -> esdb_sink_status {
    auto sink = std::make_unique<HttpSink>();
    sink->host = host;
    if (std::string why = ParseConfig(settings, count, sink->config); !why.empty()) {
      CopyError(why, err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    if (ESDB_HAS_FIELD(esdb_sink_host, host, max_batch_records)) {
      sink->config.batch_size = host->max_batch_records;
    }
    uint32_t in_flight = 1;
    if (ESDB_HAS_FIELD(esdb_sink_host, host, max_in_flight) && host->max_in_flight > 1) {
      in_flight = host->max_in_flight;
    }
    sink->connection = std::make_unique<Connection>(sink->config);
    if (std::string why = sink->connection->Init(); !why.empty()) {
      CopyError(why, err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    if (in_flight > 1) {
      sink->pool =
          std::make_unique<WritePool>(sink->config, in_flight, std::move(sink->connection));
    }
    const HttpConfig& c = sink->config;
    sink->Log(
        ESDB_SINK_LOG_INFO,
        "http-sink: " + Where(c, c.url.parts[0]) + (c.url.HasPlaceholders() ? " (templated)" : "") +
            (c.batch_size > 1
                 ? ", JSON arrays of up to " + std::to_string(c.batch_size) + " records per request"
                 : ", one request per record") +
            ", timeout " + std::to_string(c.request_timeout_ms) + " ms" +
            (in_flight > 1 ? ", up to " + std::to_string(in_flight) +
                                 " writes in flight on as many connections"
                           : ""));
    *out = reinterpret_cast<esdb_sink_instance*>(sink.release());
    return ESDB_SINK_OK;
  });
}

// Sends the batch on `connection`; returns its outcome and fills `message` when it is not OK.
esdb_sink_status Deliver(HttpSink& sink, Connection& connection,
                         const esdb_sink_record* const* records, size_t count,
                         std::string& message) {
  std::vector<PlannedRequest> plan = PlanRequests(sink.config, records, count);
  Clock::time_point not_before = sink.NotBefore();
  if (not_before > Clock::now()) std::this_thread::sleep_until(not_before);
  for (const PlannedRequest& request : plan) {
    Exchange e = connection.Send(request);
    if (e.status >= 200 && e.status < 300) continue;
    std::string where = Where(sink.config, request.target);
    if (e.status == 0) {
      message = where + ": " + e.error;
      return ESDB_SINK_RETRY;
    }
    message = "HTTP " + std::to_string(e.status) + (e.reason.empty() ? "" : " " + e.reason) +
              " from " + where + (e.body.empty() ? "" : ": " + Excerpt(e.body));
    if (!IsRetryable(e.status)) {
      if (e.status >= 300 && e.status < 400) message += " (redirects are not followed)";
      return ESDB_SINK_FATAL;
    }
    std::chrono::milliseconds wait = RetryAfter(e.retry_after);
    if (wait.count() >= 0) {
      std::chrono::milliseconds cap(sink.config.request_timeout_ms);
      if (wait > cap) wait = cap;
      sink.DelayUntil(Clock::now() + wait);
      message += " (retry after " + std::to_string(wait.count()) + " ms)";
    }
    return ESDB_SINK_RETRY;
  }
  return ESDB_SINK_OK;
}

// Delivers the batch on `connection` and reports the outcome through done(). Never throws.
void Complete(HttpSink& sink, Connection& connection, const esdb_sink_record* const* records,
              size_t count, esdb_sink_completion_fn done, void* done_ctx) {
  esdb_sink_status status = ESDB_SINK_FATAL;
  std::string message;
  try {
    status = Deliver(sink, connection, records, count, message);
  } catch (const std::bad_alloc&) {
    status = ESDB_SINK_RETRY;
    message.clear();
  } catch (const std::exception& e) {
    status = ESDB_SINK_RETRY;
    try {
      message = std::string("unexpected error: ") + e.what();
    } catch (...) {
      message.clear();
    }
  } catch (...) {
    status = ESDB_SINK_RETRY;
    message.clear();
  }
  if (status == ESDB_SINK_OK) {
    done(done_ctx, ESDB_SINK_OK, nullptr);
  } else {
    done(done_ctx, status,
         message.empty() ? "out of memory or unexpected error while sending" : message.c_str());
  }
}

void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records, size_t count,
           esdb_sink_completion_fn done, void* done_ctx) {
  auto* sink = reinterpret_cast<HttpSink*>(instance);
  if (sink->pool == nullptr) {
    Complete(*sink, *sink->connection, records, count, done, done_ctx);
    return;
  }
  // Not queued: the job never runs, so the completion is this call's.
  const char* refused = nullptr;
  std::string why;
  try {
    why = sink->pool->Run([sink, records, count, done, done_ctx](Connection& connection) {
      Complete(*sink, connection, records, count, done, done_ctx);
    });
    if (!why.empty()) refused = why.c_str();
  } catch (...) {
    refused = "cannot start another connection (out of memory or threads)";
  }
  if (refused != nullptr) done(done_ctx, ESDB_SINK_RETRY, refused);
}

void Close(esdb_sink_instance* instance) { delete reinterpret_cast<HttpSink*>(instance); }

const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1,  // min_host_abi_version
    "http-sink",
    "1.0.0",
    "Sends records to an HTTP(S) endpoint: one request per event (headers carry position, "
    "stream, revision, id and type) or JSON arrays per batch.",
    kSettings,
    kSettingsCount,
    Validate,
    Open,
    Write,
    nullptr,  // flush: every acknowledged request has been answered already
    Close,
    ESDB_SINK_PIPELINED_WRITES};

}  // namespace
}  // namespace esdb_http_sink

extern "C" ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &esdb_http_sink::kPlugin;
}
