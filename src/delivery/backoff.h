// Exponential backoff with jitter for retried sink writes and reconnects.
#ifndef ESDB_DELIVERY_BACKOFF_H_
#define ESDB_DELIVERY_BACKOFF_H_

#include <cstdint>
#include <random>

namespace esdb {

class Backoff {
 public:
  Backoff(int64_t first_ms, int64_t max_ms, double multiplier, uint64_t seed = std::random_device{}())
      : first_ms_(first_ms), max_ms_(max_ms), multiplier_(multiplier), rng_(seed) {}

  // Delay before retry number `attempt` (1-based): the exponential step capped at max, of which
  // the upper half is random ("equal jitter"), so retrying connectors do not move in lockstep.
  int64_t DelayMs(int64_t attempt);

 private:
  int64_t first_ms_, max_ms_;
  double multiplier_;
  std::mt19937_64 rng_;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_BACKOFF_H_
