// The delivery loop of one connector: subscribe to $all from the checkpoint, batch, write to the
// sink (retrying with backoff), checkpoint, and stop when asked, fenced or failed.
//
// Threads: a runner has no thread of its own. Its steps run as a SerialTask on the shared task
// executor (DeliveryPools::tasks), one at a time, in log order: queue handling, batching,
// checkpoints and other node calls. Every sink call (open, write, flush, close) runs on the
// shared sink-call pool, one at a time per runner; its completion wakes the runner's task. The
// node's subscription callbacks only copy events into a queue and never block: when the queue is
// full the task ends the subscription and subscribes again, after the last queued position, once
// the queue has drained (flow control by resubscribing).
#ifndef ESDB_DELIVERY_RUNNER_H_
#define ESDB_DELIVERY_RUNNER_H_

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/executor.h"
#include "core/filter.h"
#include "core/record_block.h"
#include "core/settings.h"
#include "delivery/backoff.h"
#include "delivery/checkpoints.h"
#include "delivery/dead_letters.h"
#include "delivery/metrics.h"
#include "delivery/pools.h"
#include "node/node_client.h"
#include "sinks/sink.h"

namespace esdb {

// How a runner ended or what it reached, reported through RunnerOptions::on_event from the
// runner's task.
struct RunnerEvent {
  enum class Kind {
    kRunning,  // subscribed; delivering
    kHealthy,  // the sink acknowledged a write, or the runner caught up: it works (once per run)
    kFailed,   // FATAL sink error, attempts exhausted or bad configuration: `message` says why
    kFenced,   // another runner checkpointed this connector; stopped without writing more
    kStopped,  // stopped on request after a final checkpoint
  } kind;
  std::string message;
  // kFailed: a restart cannot cure it (the sink refused its configuration at open, a stream the
  // runner needs is deleted for ever).
  bool permanent = false;
};

struct RunnerOptions {
  std::string connector_id;
  int64_t generation = 0;  // Connector::generation: which checkpoint stream
  std::string host_id;
  ConnectorSettings settings;
  int64_t epoch = -1;                      // Connector::epoch
  std::optional<Position> epoch_position;  // Connector::epoch_position
  const NodeClient* node = nullptr;
  // Opens the sink (on the sink-call pool). InvalidArgument/Internal fail the connector;
  // Unavailable is retried.
  std::function<absl::StatusOr<std::unique_ptr<Sink>>()> open_sink;
  std::shared_ptr<ConnectorMetrics> metrics;
  // Both run on the runner's task and must not block. on_ended is the last call: the runner has
  // ended (stopped, failed or fenced) and its sink is closed.
  std::function<void(const RunnerEvent&)> on_event;
  std::function<void()> on_ended;
  uint32_t scan_checkpoint_interval = 0;  // events the node scans between checkpoint notices
  // Checkpoints driven by the node's scan notices (nothing matched, or caught up) are at most
  // this frequent, and a failed checkpoint append is tried again after this long.
  absl::Duration scan_checkpoint_gap = absl::Seconds(1);
  size_t queue_capacity = 20000;  // records buffered ahead of the sink
  // Memory they may hold (RecordBlock::MemoryBytes), or twice batching:maxBytes if that is more:
  // large events reach the record count only after gigabytes.
  size_t queue_bytes = size_t{8} << 20;
  // The threads the runner runs on; must outlive it. nullptr: small pools of its own (tests,
  // benchmarks).
  DeliveryPools* pools = nullptr;
  // How long Stop() waits for a sink call in progress before giving the runner up.
  absl::Duration stop_timeout = absl::Seconds(10);
  // Where records the sink refuses for good are set aside (errors:tolerance=all): the resolved
  // errors:deadLetter:stream. The runner never delivers events of this stream itself.
  std::string dead_letter_stream;
  // Connector::replay_revision: when >= 0, the runner first re-sends the connector's dead
  // letters stored (by the node's clock) up to replay_until_us, Connector::replay_us, that no
  // replay of this request has sent yet. Later ones wait for a replay of their own.
  int64_t replay_request = -1;
  int64_t replay_until_us = std::numeric_limits<int64_t>::max();
};

class Runner : private SubscriptionHandler {
 public:
  struct SinkJob;  // a sink call on its way to the pool (runner.cc)
  // What a runner's queue may always hold, whatever the budget of all queues
  // (DeliveryPools::queue_budget): enough for batches of a few hundred ordinary events.
  static constexpr size_t kMinQueueBytes = size_t{256} << 10;

  explicit Runner(RunnerOptions options);
  ~Runner() override;  // Stop()

  void Start();
  // Asks the runner to stop after the sink call in progress: flush, final checkpoint, close.
  // Never blocks; idempotent.
  void RequestStop() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until the runner has ended or `deadline` has passed; true when it has ended.
  bool AwaitEnd(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // RequestStop(), then waits up to stop_timeout (counted from the first stop request) for the
  // runner to end. If a sink call still hangs then, the runner is given up: it stays without a
  // final checkpoint (the next start delivers again from the last one), and the hung call keeps
  // its sink until it returns, then closes it on its pool thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Test hook for crash tests: stops without a final checkpoint or flush.
  void Kill() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& connector_id() const { return options_.connector_id; }

 private:
  struct Item {
    enum class Kind { kRecords, kCheckpoint, kCaughtUp, kDropped } kind;
    // kRecords: the matching records of one node callback, still packed as the callback copied
    // them (the runner's task makes Records of them, off the node's thread), from `next` on.
    std::shared_ptr<const RecordBlock> block;
    size_t next = 0;
    Position position;        // kCheckpoint, kCaughtUp
    std::string why;          // kDropped
    uint64_t generation = 0;  // of the subscription that sent it (markers)
  };
  // What the runner waits for or does next, in this order.
  enum class Phase { kOpening, kStarting, kReplaying, kDelivering, kEnding, kEnded };
  enum class Exit { kStop, kFailed, kFenced };
  enum class CallKind { kOpen, kWrite, kSubmit, kFlush, kClose };
  struct SinkCall;
  struct WriteSlot;
  struct CheckpointCall;
  class ActivityProbe;
  // What the queue offers now: a batch, or one marker, or nothing before `wake`.
  struct Work {
    bool batch = false;
    std::optional<Item> marker;
    absl::Time wake = absl::InfiniteFuture();
  };

  // The runner's task: one step of the phase it is in.
  void Step();
  void StepOpen();
  void StepStart();
  void StepReplay();
  void StepDeliver();
  void StepEnd();
  // A batch that is waiting for a retry: writes it when due (on a new instance when the last one
  // was lost), else arms the task's timer. True when it did something or is waiting.
  bool RetryBatch();
  void BeginEnd(Exit exit);
  // Runs `fn` on the sink-call pool; its end wakes the task, which then calls OnCallDone().
  void StartCall(CallKind kind, std::function<void(SinkCall&)> fn);
  static void RunSinkCalls(SinkJob job);
  void OnCallDone(CallKind kind, SinkCall& call);
  void WriteBatch();
  // Pipelined writes (batching:maxInFlight above 1, a sink that takes them): true while the
  // runner may have more than the one write of the sync path outstanding.
  bool CanPipeline() const;
  // Submits `batch` on the sink-call pool; its completion wakes the task.
  void SubmitBatch(std::shared_ptr<std::vector<Record>> batch);
  // Takes in the completions of submitted writes, front to back: the acknowledged prefix moves
  // `safe_`. A failure stops new writes until every other submitted write has completed; then
  // the first unacknowledged batch becomes `batch_` (as if written alone, so retries, FATAL and
  // errors:tolerance work as with one write in flight) and the batches after it are written
  // again, in order, from `resend_`. A write past its timeout loses the instance at once.
  // `ending`: acknowledgements only, no retry. Returns when to look again (a deadline).
  absl::Time Harvest(bool ending);
  // A submitted batch the sink acknowledged, in log order.
  void Acknowledge(const std::vector<Record>& batch);
  void OnWritten(const SinkResult& r);
  void OnReplayWritten(const SinkResult& r);
  // A batch the sink refused for good, with errors:tolerance=all: splits it, or sets its one
  // record aside (FATAL) or holds it until the sink accepts a later record (RETRY).
  void Isolate(const SinkResult& r, bool retry, const std::string& why);
  // Appends `record` to the dead-letter stream (once) and moves `safe_` to it. False when the
  // append failed: the runner has failed then.
  bool SetAside(const Record& record, const std::string& error, int64_t attempts);
  void ReportHealthy();

  absl::Status Subscribe(std::optional<Position> after) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<Position>> StartPosition();
  // Writes the start checkpoint, fencing off any other runner of this connector.
  absl::Status Claim(Position p);
  // Ends the subscription when the queue is full; subscribes again once it has drained (and
  // after a dropped subscription). Arms the task's timer when a retry has to wait.
  void FlowControl() ABSL_LOCKS_EXCLUDED(mu_);
  // The memory the queue may hold before the subscription is ended (RunnerOptions::queue_bytes).
  size_t QueueBytes() const {
    return std::max(options_.queue_bytes,
                    2 * static_cast<size_t>(options_.settings.batch_max_bytes));
  }
  // Sets queued_bytes_, and with it the budget of all queues and the metric.
  void SetQueuedBytes(size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The queue is full: by records, by its own memory, or by the budget of all runners' queues
  // once it holds its minimum.
  bool QueueFull() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queued_records_ >= options_.queue_capacity || queued_bytes_ >= QueueBytes() ||
           (queued_bytes_ >= kMinQueueBytes && pools_->queue_budget().Exceeded());
  }
  Work TakeWork() ABSL_LOCKS_EXCLUDED(mu_);
  void HandleMarker(const Item& marker);
  // Writes a checkpoint when `force` or the autocommit policy says so: in the background when
  // the policy says so (one at a time; delivery goes on meanwhile and its end wakes the task),
  // at once when forced, or, while one is in the background, as soon as that one has ended.
  std::optional<Exit> MaybeCheckpoint(bool force);
  void DrawCheckpointStagger();
  // The end of the checkpoint written in the background, if it has ended.
  std::optional<Exit> CheckpointCallDone();
  // What an appended (or refused) checkpoint of `position` means for the runner; `records`:
  // since_checkpoint_ when it was made.
  std::optional<Exit> OnCheckpointWritten(const absl::StatusOr<int64_t>& revision,
                                          Position position, int64_t records);
  absl::Time CheckpointDue() const;
  // True when an event the connector could deliver (not the library's own bookkeeping) lies
  // after the last checkpoint: only then is scan progress worth a checkpoint.
  bool ActivitySinceCheckpoint() const ABSL_LOCKS_EXCLUDED(mu_);
  // For a connector filtered by the node: looks for such an event past the last checkpoint.
  // Returns when to look again.
  absl::Time MaybeProbe();
  // Publishes the position and the caught-up flag (metrics, lag).
  void Publish() ABSL_LOCKS_EXCLUDED(mu_);
  void Report(RunnerEvent::Kind kind, std::string message = "");
  bool stop_requested() const ABSL_LOCKS_EXCLUDED(mu_);
  void Log(int32_t level, const std::string& message) const;

  // SubscriptionHandler, on a node thread; never blocks.
  void OnEventBlock(RecordBlock block) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnEvents(std::vector<Record> events) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCheckpoint(Position position) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCaughtUp(Position position) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDropped(absl::Status why) override ABSL_LOCKS_EXCLUDED(mu_);
  void PushMarker(Item item) ABSL_LOCKS_EXCLUDED(mu_);

  RunnerOptions options_;
  std::unique_ptr<DeliveryPools> own_pools_;  // when options_.pools is null
  DeliveryPools* pools_;
  Filter filter_;
  // The node drops user events the runner never sees (not just system streams): activity
  // must be asked for (MaybeProbe).
  const bool node_filtered_;
  Backoff backoff_;
  CheckpointStore checkpoints_;
  std::shared_ptr<SerialTask> task_;

  // The runner's task only.
  Phase phase_ = Phase::kOpening;
  Exit exit_ = Exit::kStop;
  bool delivering_ = false;  // subscribed once: ending flushes and checkpoints
  bool given_up_ = false;    // Stop() gave up on a hung sink call
  enum class EndStep { kFlush, kClose, kDone } end_step_ = EndStep::kClose;
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<SinkCall> call_;                   // the sink call in progress
  std::shared_ptr<CheckpointCall> checkpoint_call_;  // the checkpoint being appended
  bool checkpoint_soon_ = false;  // a forced checkpoint waits for checkpoint_call_
  CallKind call_kind_ = CallKind::kOpen;
  int64_t attempt_ = 0;  // of the open, start or batch write in progress
  int64_t claim_conflicts_ = 0;
  absl::Time retry_at_ = absl::InfinitePast();
  std::shared_ptr<std::vector<Record>> batch_;  // written, or waiting for a retry
  std::shared_ptr<std::vector<Record>> spare_;  // an acknowledged batch, for reuse
  // Pipelined writes: submitted, in log order, until acknowledged without a gap.
  struct InFlight {
    std::shared_ptr<std::vector<Record>> batch;
    std::shared_ptr<WriteSlot> slot;
    absl::Time started;
    absl::Time deadline;  // resilience:writeTimeoutMs after it was submitted
  };
  std::deque<InFlight> in_flight_;
  bool draining_ = false;  // one failed: no new writes until the others have completed
  // Batches that were submitted after one that failed: written again, in order, before anything
  // from the queue.
  std::deque<std::shared_ptr<std::vector<Record>>> resend_;
  // A marker taken while writes were outstanding: handled once they are all acknowledged.
  std::optional<Item> deferred_marker_;
  bool reopen_ = false;         // the instance was lost: open a new one before the retry
  int64_t reopen_attempt_ = 0;  // opens of that new instance
  // errors:tolerance=all. The records of a batch the sink refused, not yet resolved, ahead of
  // everything queued: they are written in parts of next_size_ until the bad one is alone.
  std::deque<Record> suspects_;
  size_t next_size_ = 0;
  bool batch_from_suspects_ = false;
  // A record that kept failing with RETRY when written alone: set aside once the sink accepts a
  // later record (the sink works, this record does not), never passed by `safe_` before.
  struct Held {
    Record record;
    std::string error;
    int64_t attempts = 0;
  };
  std::optional<Held> held_;
  std::unique_ptr<DeadLetterWriter> dead_letters_;
  // The replay of dead letters at start (options_.replay_request), one at a time.
  std::deque<DeadLetter> replay_;
  bool healthy_reported_ = false;
  absl::Time filling_since_ = absl::InfiniteFuture();  // a partial batch waits since then
  std::unique_ptr<Subscription> subscription_;
  bool need_subscribe_ = false;  // after a pause or a drop
  int64_t subscribe_attempt_ = 0;
  absl::Time subscribe_at_ = absl::InfinitePast();
  bool caught_up_ = false;  // the current subscription has reached the end
  std::optional<Position> start_;
  Position safe_;                  // everything up to here acknowledged (or filtered out)
  std::optional<Position> saved_;  // last checkpoint written
  bool marker_progress_ = false;   // safe_ moved on scan notices since the last checkpoint
  int64_t since_checkpoint_ = 0;   // records acknowledged since then
  // This checkpoint's own thresholds (DrawCheckpointStagger).
  struct CheckpointStagger {
    uint64_t draws = 0;
    int64_t records = 0;          // counted as already acknowledged
    int64_t interval_ms = 0;      // the interval is this much shorter
    absl::Duration marker_delay;  // a scan notice's checkpoint comes this much later
  };
  CheckpointStagger stagger_;
  absl::Time last_checkpoint_time_;
  // When the first record, or scan progress past an activity event, since the last checkpoint
  // was seen (MaybeCheckpoint).
  absl::Time unsaved_since_ = absl::InfiniteFuture();
  absl::Time checkpoint_retry_at_ = absl::InfinitePast();  // after a failed append
  std::unique_ptr<ActivityProbe> probe_handler_;
  std::unique_ptr<Subscription> probe_;
  Position clean_to_;  // a probe found nothing but bookkeeping up to here
  absl::Duration probe_gap_;
  absl::Time next_probe_at_ = absl::InfinitePast();

  // The queue's front part, moved over from queue_ by TakeWork (the task's own).
  std::deque<Item> staged_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_records_ ABSL_GUARDED_BY(mu_) = 0;  // in queue_ and staged_
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;    // their blocks' memory (MemoryBytes)
  std::optional<Position> last_enqueued_ ABSL_GUARDED_BY(mu_);  // resubscribe point
  std::optional<Position> last_activity_ ABSL_GUARDED_BY(mu_);  // see ActivitySinceCheckpoint
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;                // of the current subscription
  bool pause_ ABSL_GUARDED_BY(mu_) = false;  // the queue is full: end the subscription
  // Set with pause_ and cleared only by the next subscription: what the ending one still sends is
  // dropped unqueued (the new one reads it again after last_enqueued_), so a queue overshoots
  // its bound by one callback however long the task takes to end the subscription.
  bool shedding_ ABSL_GUARDED_BY(mu_) = false;
  // A sink call is in progress: its end wakes the task, so the node's callbacks need not (a
  // wake-up per callback would only find the call still running).
  bool in_call_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // ending: callbacks are ignored
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_RUNNER_H_
