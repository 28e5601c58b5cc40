// Per-connector counters, updated by its runner and read by the metrics endpoint.
#ifndef ESDB_DELIVERY_METRICS_H_
#define ESDB_DELIVERY_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>

namespace esdb {

// Latency histogram with fixed buckets (seconds), lock-free.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 11> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   1.0,   5.0};
  void Observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }
  uint64_t Bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  double SumSeconds() const { return sum_us_.load(std::memory_order_relaxed) / 1e6; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> sum_us_{0};
};

struct ConnectorMetrics {
  std::atomic<uint64_t> records_delivered{0};
  std::atomic<uint64_t> batches_delivered{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> checkpoints{0};
  std::atomic<uint64_t> dead_letters{0};           // records set aside (errors:tolerance=all)
  std::atomic<uint64_t> dead_letters_replayed{0};  // dead letters a replay delivered
  std::atomic<uint64_t> checkpoint_position{0};  // commit position
  std::atomic<uint64_t> delivered_position{0};   // commit position of the last acknowledged record
  // Where the runner stands, checkpointed or not: everything up to this commit position is
  // handled (delivered, or skipped by the filter).
  std::atomic<uint64_t> handled_position{0};
  // The runner's subscription has reached the end of the log and nothing is queued or in flight.
  std::atomic<bool> caught_up{false};
  // Memory the records copied from the node and not yet taken into a batch hold.
  std::atomic<uint64_t> queued_bytes{0};
  LatencyHistogram write_latency;

  // What the connector still has to look at, in log positions, given the log's last commit
  // position: 0 when caught up. Not the distance to the last checkpoint, which stays behind on
  // purpose while only the library's own events are written (see Runner::CheckpointDue).
  uint64_t Lag(uint64_t end_commit) const {
    if (caught_up.load()) return 0;
    uint64_t handled = handled_position.load();
    return end_commit > handled ? end_commit - handled : 0;
  }
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_METRICS_H_
