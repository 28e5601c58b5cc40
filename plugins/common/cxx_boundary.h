// For sinks written in C++: what every entry point needs so that nothing unwinds across the C
// ABI, and small helpers the built-in sinks share. Header-only; depends on nothing but
// esdb/sink.h and the C++ library.
#ifndef ESDB_PLUGINS_COMMON_CXX_BOUNDARY_H_
#define ESDB_PLUGINS_COMMON_CXX_BOUNDARY_H_

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <new>
#include <string>

#include "esdb/sink.h"

namespace esdb_plugin {

// Writes `text` into the host's error buffer, truncated and always terminated.
inline void CopyError(const std::string& text, char* err, size_t err_size) {
  if (err == nullptr || err_size == 0) return;
  std::snprintf(err, err_size, "%s", text.c_str());
}

// Runs `body` (which returns an esdb_sink_status) and turns an escaping exception into a status:
// out of memory is RETRY (memory may come back), anything else `on_error`, with "<what>: <why>"
// in the error buffer.
template <class Body>
esdb_sink_status Guarded(const char* what, esdb_sink_status on_error, char* err, size_t err_size,
                         Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    CopyError("out of memory", err, err_size);
    return ESDB_SINK_RETRY;
  } catch (const std::exception& e) {
    CopyError(std::string(what) + ": " + e.what(), err, err_size);
    return on_error;
  } catch (...) {
    CopyError(what, err, err_size);
    return on_error;
  }
}

// A record's created time (microseconds since the Unix epoch) as RFC 3339 UTC text with
// microseconds, e.g. "2026-11-27T08:30:00.123456Z".
inline std::string Rfc3339(int64_t unix_us) {
  int64_t seconds = unix_us / 1000000;
  int64_t micros = unix_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --seconds;
  }
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char text[64];  // room for any year snprintf can print, to keep -Wformat-truncation quiet
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros));
  return text;
}

}  // namespace esdb_plugin

#endif  // ESDB_PLUGINS_COMMON_CXX_BOUNDARY_H_
