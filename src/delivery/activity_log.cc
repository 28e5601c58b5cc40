#include "delivery/activity_log.h"

#include <algorithm>

namespace esdb {

ActivityLog::ActivityLog(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void ActivityLog::Note(Position p) {
  // Runners that see the same events note the same positions: all but the first stop here.
  if (p.commit < last_commit_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&mu_);
  if (!ring_.empty()) {
    const size_t last = (start_ + ring_.size() - 1) % ring_.size();
    if (p <= ring_[last]) return;
  }
  if (ring_.size() < capacity_) {
    ring_.push_back(p);
  } else {
    ring_[start_] = p;
    start_ = (start_ + 1) % ring_.size();
  }
  last_commit_.store(p.commit, std::memory_order_relaxed);
}

std::optional<Position> ActivityLog::FindIn(Position after, Position until) const {
  absl::MutexLock lock(&mu_);
  const size_t n = ring_.size();
  auto at = [&](size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> const Position& {
    return ring_[(start_ + i) % n];
  };
  // The first noted position above `after`.
  size_t lo = 0, hi = n;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (at(mid) <= after) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == n || at(lo) > until) return std::nullopt;
  return at(lo);
}

}  // namespace esdb
