// Positions of recent user events (in streams not starting with `$`) that some runner of this
// host has seen, shared by all of them. A connector the node filters never sees the user events
// its filter skips, yet scan progress past such an event is worth a checkpoint; before it asks
// the node with a probe subscription of its own (Runner::MaybeProbe), it looks here. With many
// connectors on one host, one that sees every event (no filter) answers for all the others,
// and none of them needs a probe: a probe catches up from the connector's last checkpoint, so
// hundreds of them per second cost the node hundreds of store reads per second.
//
// Every position noted is a fact about the log (an event of a `$`-less stream is there), so an
// answer is never wrong; positions are kept only in increasing order and only the most recent
// ones, so "not known" is common and means "ask the node".
#ifndef ESDB_DELIVERY_ACTIVITY_LOG_H_
#define ESDB_DELIVERY_ACTIVITY_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/position.h"

namespace esdb {

// Thread-safe.
class ActivityLog {
 public:
  explicit ActivityLog(size_t capacity = 4096);

  // `p` is the position of an event in a stream that does not start with `$`. Ignored unless it
  // is above every position noted before (cheap then: no lock).
  void Note(Position p) ABSL_LOCKS_EXCLUDED(mu_);

  // A noted position in (after, until], if one is known.
  std::optional<Position> FindIn(Position after, Position until) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const size_t capacity_;
  std::atomic<uint64_t> last_commit_{0};  // commit of the last position noted
  mutable absl::Mutex mu_;
  std::vector<Position> ring_ ABSL_GUARDED_BY(mu_);  // increasing from `start_`, wrapping
  size_t start_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_ACTIVITY_LOG_H_
