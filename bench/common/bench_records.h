// Records as a sink receives them, for the benchmarks that drive a sink plugin directly.
#ifndef ESDB_BENCH_COMMON_BENCH_RECORDS_H_
#define ESDB_BENCH_COMMON_BENCH_RECORDS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/record.h"

namespace esdb::bench {

// `n` JSON records over 100 streams at increasing positions; record i's data is `data(i)`.
template <typename DataFn>
std::vector<Record> MakeRecords(size_t n, DataFn data) {
  std::vector<Record> log(n);
  for (size_t i = 0; i < n; ++i) {
    Record& r = log[i];
    r.stream = absl::StrCat("orders-", i % 100);
    r.revision = i / 100;
    r.position = {1000 + i * 300, 1000 + i * 300};
    r.event_id = "0c7d2f4e-1b2a-4c3d-9e8f-102030405060";
    r.event_type = "OrderPlaced";
    r.content_type = "application/json";
    r.data = data(i);
    r.created_unix_us = 1714566605000250;
  }
  return log;
}

}  // namespace esdb::bench

#endif  // ESDB_BENCH_COMMON_BENCH_RECORDS_H_
