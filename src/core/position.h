// A position in the node's global log ($all).
#ifndef ESDB_CORE_POSITION_H_
#define ESDB_CORE_POSITION_H_

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace esdb {

struct Position {
  uint64_t commit = 0;
  uint64_t prepare = 0;

  friend auto operator<=>(const Position&, const Position&) = default;

  // "C/P", or just "C" when prepare == commit.
  std::string ToString() const;
  // Accepts "C", "C/P" or "C:P" (decimal). Anything else is InvalidArgument.
  static absl::StatusOr<Position> Parse(std::string_view text);
};

}  // namespace esdb

#endif  // ESDB_CORE_POSITION_H_
