// For sinks written in C++: what every entry point needs so that nothing unwinds across the C
// ABI. Header-only; depends on nothing but esdb/sink.h and the C++ library.
#ifndef ESDB_PLUGINS_COMMON_CXX_BOUNDARY_H_
#define ESDB_PLUGINS_COMMON_CXX_BOUNDARY_H_

#include <cstdio>
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

}  // namespace esdb_plugin

#endif  // ESDB_PLUGINS_COMMON_CXX_BOUNDARY_H_
