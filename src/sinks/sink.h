// What the delivery loop writes to: one sink instance, behind an interface so tests can drive
// failures deterministically. Plugin-backed instances come from SinkPlugin::Open (plugin.h).
#ifndef ESDB_SINKS_SINK_H_
#define ESDB_SINKS_SINK_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/record.h"

namespace esdb {

enum class SinkOutcome { kOk, kRetry, kFatal };

struct SinkResult {
  SinkOutcome outcome = SinkOutcome::kOk;
  std::string message;  // why, when not kOk
  // When not kOk: the sink named the record at fault (esdb_sink_host.fail_record): the records
  // before it were delivered, this one was refused. Absent: the sink did not say.
  std::optional<size_t> failed_index;
  // The write never completed within the write timeout: the instance was abandoned and can take
  // no more writes; the outcome is kRetry, to be retried on a fresh instance.
  bool instance_lost = false;
};

// One open sink. Not thread-safe: the delivery loop calls it from one thread.
class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers `records` in order and waits until the sink has acknowledged them (or failed).
  virtual SinkResult Write(std::span<const Record> records) = 0;
  // Makes everything acknowledged durable; called before a clean stop.
  virtual absl::Status Flush() = 0;

  // Pipelined writes (batching:maxInFlight above 1). True when the sink takes Submit() calls
  // whose completion is outstanding; Write() must then not be called while one is.
  virtual bool pipelined() const { return false; }
  // Hands `records` to the sink and returns once it has taken them; `done` runs exactly once
  // with the outcome, from any thread, possibly before Submit() returns, and keeps `records`
  // alive until then. Calls are made one at a time, in log order. The default writes at once.
  virtual void Submit(std::shared_ptr<const std::vector<Record>> records,
                      std::function<void(SinkResult)> done) {
    done(Write(*records));
  }
  // Gives the instance up after a submitted write that never completed in time: it is never
  // written to or closed again, and what it still holds is leaked rather than freed under it.
  virtual void Abandon() {}
};

}  // namespace esdb

#endif  // ESDB_SINKS_SINK_H_
