// The "created" system metadata of a recorded event: .NET ticks (100 ns) since the Unix epoch,
// written as decimal text.
#ifndef ESDB_PROTOCOL_EVENT_TIME_H_
#define ESDB_PROTOCOL_EVENT_TIME_H_

#include <cstdint>
#include <string>

namespace esdb::protocol {

inline constexpr int64_t kTicksPerMicrosecond = 10;

inline std::string CreatedTicks(int64_t unix_us) {
  return std::to_string(unix_us * kTicksPerMicrosecond);
}

}  // namespace esdb::protocol

#endif  // ESDB_PROTOCOL_EVENT_TIME_H_
