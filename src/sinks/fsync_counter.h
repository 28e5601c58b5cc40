// Test-only: counts fdatasync() calls made anywhere in the process (plugins included), by
// interposing the symbol from the test executable. See fsync_counter.cc.
#ifndef ESDB_SINKS_FSYNC_COUNTER_H_
#define ESDB_SINKS_FSYNC_COUNTER_H_

#include <cstdint>

namespace esdb::testing {

int64_t FdatasyncCalls();

}  // namespace esdb::testing

#endif  // ESDB_SINKS_FSYNC_COUNTER_H_
