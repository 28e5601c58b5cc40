// What the benchmarks share: filling a log node with N events of a given payload, the same way
// for every benchmark so their figures compare.
#ifndef ESDB_BENCH_COMMON_BENCH_LOG_H_
#define ESDB_BENCH_COMMON_BENCH_LOG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "devnode/log_node.h"

namespace esdb::bench {

// A JSON event body of about `bytes` bytes.
inline std::string Payload(size_t bytes) {
  return absl::StrCat(R"({"payload":")", std::string(bytes > 16 ? bytes - 16 : 1, 'x'), "\"}");
}

// Appends events until the log holds `events` of them: 100 per stream over 1,000 streams, ten
// streams per AppendBatch call (one transaction on SQLite).
inline absl::Status FillLog(devnode::LogNode& node, uint64_t events, const std::string& data) {
  for (uint64_t done = node.LastPosition(); done < events;) {
    std::vector<devnode::StreamEvents> batch;
    for (int s = 0; s < 10 && done < events; ++s) {
      devnode::StreamEvents se;
      se.stream = absl::StrCat("bench-", (done / 100) % 1000);
      for (int i = 0; i < 100 && done < events; ++i, ++done) {
        se.events.push_back({"", "BenchEvent", "application/json", data, ""});
      }
      batch.push_back(std::move(se));
    }
    if (auto r = node.AppendBatch(std::move(batch)); !r.ok()) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace esdb::bench

#endif  // ESDB_BENCH_COMMON_BENCH_LOG_H_
