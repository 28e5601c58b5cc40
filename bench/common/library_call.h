// A management API call straight into a loaded libesdb_connectors.so, as a host started
// --insecure would make it: the benchmarks measure delivery, not access checks.
#ifndef ESDB_BENCH_COMMON_LIBRARY_CALL_H_
#define ESDB_BENCH_COMMON_LIBRARY_CALL_H_

#include <string>

#include "hosting/connectors_library.h"

namespace esdb::bench {

inline http::Response Call(const hosting::ConnectorsLibrary& lib, const std::string& method,
                           const std::string& path, const std::string& body = "") {
  http::Request req;
  req.method = method;
  req.path = path;
  req.body = body;
  req.principal.kind = http::Principal::Kind::kInsecure;
  if (!body.empty()) req.headers.push_back({"Content-Type", "application/json"});
  return lib.Handle(req);
}

}  // namespace esdb::bench

#endif  // ESDB_BENCH_COMMON_LIBRARY_CALL_H_
