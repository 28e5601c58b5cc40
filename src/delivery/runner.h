// The delivery loop of one connector: subscribe to $all from the checkpoint, batch, write to the
// sink (retrying with backoff), checkpoint, and stop when asked, fenced or failed.
//
// Threads: the runner owns one thread that does all sink calls and checkpoint writes, in log
// order. The node's subscription thread only copies events into a bounded queue (blocking when it
// is full, which back-pressures the node).
#ifndef ESDB_DELIVERY_RUNNER_H_
#define ESDB_DELIVERY_RUNNER_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/filter.h"
#include "core/settings.h"
#include "delivery/backoff.h"
#include "delivery/checkpoints.h"
#include "delivery/metrics.h"
#include "node/node_client.h"
#include "sinks/sink.h"

namespace esdb {

// How a runner ended or what it reached, reported through RunnerOptions::on_event from the
// runner's thread.
struct RunnerEvent {
  enum class Kind {
    kRunning,  // subscribed; delivering
    kFailed,   // FATAL sink error, attempts exhausted or bad configuration: `message` says why
    kFenced,   // another runner checkpointed this connector; stopped without writing more
    kStopped,  // stopped on request after a final checkpoint
  } kind;
  std::string message;
};

struct RunnerOptions {
  std::string connector_id;
  int64_t generation = 0;  // Connector::generation: which checkpoint stream
  std::string host_id;
  ConnectorSettings settings;
  int64_t epoch = -1;                    // Connector::epoch
  std::optional<Position> epoch_position;  // Connector::epoch_position
  const NodeClient* node = nullptr;
  // Opens the sink. InvalidArgument/Internal fail the connector; Unavailable is retried.
  std::function<absl::StatusOr<std::unique_ptr<Sink>>()> open_sink;
  std::shared_ptr<ConnectorMetrics> metrics;
  std::function<void(const RunnerEvent&)> on_event;
  uint32_t scan_checkpoint_interval = 0;  // events the node scans between checkpoint notices
  size_t queue_capacity = 20000;          // records buffered ahead of the sink
};

class Runner : private SubscriptionHandler {
 public:
  explicit Runner(RunnerOptions options);
  ~Runner() override;  // Stop()

  void Start();
  // Stops delivery after the batch in flight, writes a final checkpoint, flushes and closes the
  // sink. Idempotent; returns when the thread has ended.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Test hook for crash tests: ends the thread without a final checkpoint or flush.
  void Kill() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& connector_id() const { return options_.connector_id; }

 private:
  struct Item {
    enum class Kind { kRecord, kCheckpoint, kCaughtUp, kDropped } kind;
    Record record;      // kRecord
    Position position;  // kCheckpoint, kCaughtUp
    std::string why;    // kDropped
  };
  enum class Exit { kStop, kFailed, kFenced };

  void Run();
  absl::Status Subscribe(std::optional<Position> after) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<Position>> StartPosition();
  // Writes the start checkpoint, fencing off any other runner of this connector.
  absl::Status Claim(Position p);
  // Fills `batch` (and/or `marker`) with the next work, waiting up to the batch timeout and the
  // checkpoint deadline. Returns false when stopping.
  bool NextWork(std::vector<Record>& batch, std::optional<Item>& marker) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes a batch until the sink acknowledges it; nullopt when done, else why it must end.
  std::optional<Exit> Deliver(const std::vector<Record>& batch);
  // Writes a checkpoint when `force` or the autocommit policy says so.
  std::optional<Exit> MaybeCheckpoint(bool force);
  bool WaitForStop(int64_t ms) ABSL_LOCKS_EXCLUDED(mu_);  // true when stopping
  void Report(RunnerEvent::Kind kind, std::string message = "");
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  // SubscriptionHandler, on the node's thread.
  void OnEvents(std::vector<Record> events) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCheckpoint(Position position) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCaughtUp(Position position) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDropped(absl::Status why) override ABSL_LOCKS_EXCLUDED(mu_);
  void PushMarker(Item item) ABSL_LOCKS_EXCLUDED(mu_);

  RunnerOptions options_;
  Filter filter_;
  Backoff backoff_;
  CheckpointStore checkpoints_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Subscription> subscription_;
  std::thread thread_;

  // Runner thread only.
  Position safe_;                     // everything up to here acknowledged (or filtered out)
  std::optional<Position> saved_;     // last checkpoint written
  bool scanned_progress_ = false;     // safe_ moved on scan notices since the last checkpoint
  int64_t since_checkpoint_ = 0;      // records acknowledged since then
  absl::Time last_checkpoint_time_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_records_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<Position> last_enqueued_ ABSL_GUARDED_BY(mu_);  // resubscribe point
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_RUNNER_H_
