#include "delivery/backoff.h"

#include <algorithm>
#include <cmath>

namespace esdb {

int64_t Backoff::DelayMs(int64_t attempt) {
  double step = static_cast<double>(first_ms_) *
                std::pow(multiplier_, static_cast<double>(std::max<int64_t>(attempt, 1) - 1));
  int64_t base = static_cast<int64_t>(std::min(step, static_cast<double>(max_ms_)));
  if (base <= 1) return base;
  std::uniform_int_distribution<int64_t> jitter(0, base - base / 2);
  return base / 2 + jitter(rng_);
}

}  // namespace esdb
