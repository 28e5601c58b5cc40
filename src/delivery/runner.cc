#include "delivery/runner.h"

#include <algorithm>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace esdb {
namespace {

// A probe that finds nothing but bookkeeping doubles the wait before the next one, up to this.
constexpr absl::Duration kMaxProbeGap = absl::Minutes(5);

// Start claims that may conflict before the runner gives up as fenced.
constexpr int64_t kClaimAttempts = 3;

// Markers handled in one step before the runner lets other runners have the thread.
constexpr int kItemsPerStep = 1000;

// Sink calls one sink-call thread runs for one runner in a row (see RunSinkCalls) before the
// next goes to the back of the pool's queue, behind other runners' calls.
constexpr int kCallsInARow = 8;

Filter MakeFilter(const FilterSpec& spec) {
  auto f = Filter::Create(spec);
  // Settings were validated before a runner is made; fall back to "no filter" rather than crash.
  return f.ok() ? *f : *Filter::Create(FilterSpec{});
}

// The streams the library writes itself: $connectors, $connectors/{id}, its checkpoints,
// $connectors-hosts, and the metadata streams of those.
bool IsLibraryStream(std::string_view stream) {
  return stream.starts_with("$connectors") || stream.starts_with("$$$connectors");
}

// An event that is worth committing scan progress over: one of the kind the connector could
// deliver (any stream but the `$`-streams, or with includeSystem any but the library's own).
// The library's bookkeeping (checkpoints, lifecycle events, heartbeats) never is, so that a
// checkpoint cannot lead other connectors to checkpoint in turn.
bool IsActivityStream(std::string_view stream, bool include_system) {
  return include_system ? !IsLibraryStream(stream) : !stream.starts_with("$");
}

}  // namespace

// What a sink call on the pool hands back to the runner's task. The fields are written before
// `done` is set, and read after it was seen set, both under `mu`.
struct Runner::SinkCall {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  std::unique_ptr<Sink> opened;  // kOpen
  absl::Status status;           // kOpen, kFlush
  SinkResult write;              // kWrite
  absl::Duration took;           // kWrite
};

// The outcome of a submitted (pipelined) write, set by the sink's completion on any thread.
struct Runner::WriteSlot {
  absl::Mutex mu;
  std::optional<SinkResult> result ABSL_GUARDED_BY(mu);
  absl::Time finished ABSL_GUARDED_BY(mu);
};

// A checkpoint appended on the sink-call pool while delivery goes on. `revision` is written
// before `done` is set, and read after it was seen set, both under `mu`.
struct Runner::CheckpointCall {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::StatusOr<int64_t> revision;
  Position position;    // what it records
  int64_t records = 0;  // since_checkpoint_ when it was made
};

// The second, short-lived subscription of a connector the node filters, which therefore never
// sees the events its filter skips. It asks the node for the first event after a position that
// IsActivityStream accepts, and tells whether one came before the scan reached `until`.
class Runner::ActivityProbe : public SubscriptionHandler {
 public:
  struct Result {
    bool done = false;
    std::optional<Position> found;  // such an event
    Position clean_to;              // nothing but bookkeeping up to here
  };

  ActivityProbe(std::shared_ptr<SerialTask> task, Position from, Position until,
                bool include_system)
      : task_(std::move(task)), until_(until), include_system_(include_system), clean_to_(from) {}

  Result result() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return Result{done_, found_, clean_to_};
  }

  void OnEvents(std::vector<Record> events) override { Look(events); }
  // The block as it is: only streams and positions are looked at, so no Record is made.
  void OnEventBlock(RecordBlock block) override {
    if (!block.empty()) Look(std::span<const RecordView>(&block[0], block.size()));
  }
  void OnCheckpoint(Position p) override { Scanned(p, /*end=*/false); }
  void OnCaughtUp(Position p) override { Scanned(p, /*end=*/true); }
  void OnDropped(absl::Status) override {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    task_->Schedule();
  }

 private:
  template <typename Events>
  void Look(const Events& events) {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      for (const auto& r : events) {
        if (IsActivityStream(r.stream, include_system_)) {
          found_ = r.position;
          done_ = true;
          break;
        }
        clean_to_ = std::max(clean_to_, r.position);
      }
      if (!done_) return;
    }
    task_->Schedule();
  }

  void Scanned(Position p, bool end) {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      clean_to_ = std::max(clean_to_, p);
      if (!end && p < until_) return;
      done_ = true;
    }
    task_->Schedule();
  }

  const std::shared_ptr<SerialTask> task_;
  const Position until_;
  const bool include_system_;
  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Position> found_ ABSL_GUARDED_BY(mu_);
  Position clean_to_ ABSL_GUARDED_BY(mu_);
};

Runner::Runner(RunnerOptions options)
    : options_(std::move(options)),
      own_pools_(options_.pools != nullptr ? nullptr
                                           : std::make_unique<DeliveryPools>(DeliveryPoolsOptions{
                                                 .task_threads = 2, .sink_threads = 2})),
      pools_(options_.pools != nullptr ? options_.pools : own_pools_.get()),
      filter_(MakeFilter(options_.settings.filter)),
      // Without a filter the node drops the system streams only, never activity.
      node_filtered_(filter_.ToServerFilter().enabled &&
                     options_.settings.filter.type != FilterType::kNone),
      backoff_(options_.settings.first_delay_ms, options_.settings.max_delay_ms,
               options_.settings.multiplier),
      checkpoints_(options_.node, options_.connector_id, options_.generation, options_.host_id),
      task_(SerialTask::Create(&pools_->tasks(), [this] { Step(); })),
      probe_gap_(options_.scan_checkpoint_gap) {
  if (!options_.metrics) options_.metrics = std::make_shared<ConnectorMetrics>();
  if (options_.dead_letter_stream.empty()) {
    options_.dead_letter_stream = DeadLetterStream(options_.connector_id, options_.generation);
  }
  dead_letters_ = std::make_unique<DeadLetterWriter>(options_.node, options_.dead_letter_stream);
}

Runner::~Runner() {
  Stop();
  task_->Close();
  probe_.reset();
  subscription_.reset();
  {
    absl::MutexLock lock(&mu_);  // what ending did not clear (a runner given up on)
    SetQueuedBytes(0);
  }
  // A runner given up on leaves its hung call behind; its own pool must not wait for it.
  if (own_pools_) own_pools_->Shutdown(given_up_ ? absl::ZeroDuration() : absl::InfiniteDuration());
}

void Runner::SetQueuedBytes(size_t bytes) {
  // The budget counts what each queue holds beyond its minimum: the many small queues of live
  // connectors never touch the shared counter (one cache line for every runner of the host).
  auto excess = [](size_t b) { return b > kMinQueueBytes ? b - kMinQueueBytes : 0; };
  const size_t before = excess(queued_bytes_), after = excess(bytes);
  if (after > before) pools_->queue_budget().Add(after - before);
  if (after < before) pools_->queue_budget().Release(before - after);
  queued_bytes_ = bytes;
  options_.metrics->queued_bytes.store(bytes, std::memory_order_relaxed);
}

void Runner::Start() {
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  task_->Schedule();
}

void Runner::RequestStop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_) return;
    stop_requested_ = true;
    stop_deadline_ = absl::Now() + options_.stop_timeout;
    if (!started_) ended_ = true;
  }
  task_->Schedule();
}

bool Runner::AwaitEnd(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(absl::Condition(&ended_), deadline);
}

void Runner::Stop() {
  RequestStop();
  absl::Time deadline;
  {
    absl::MutexLock lock(&mu_);
    deadline = stop_deadline_;
  }
  if (AwaitEnd(deadline)) return;
  task_->Close();  // no step runs from now on
  {
    absl::MutexLock lock(&mu_);
    if (ended_) return;  // ended just in time
    ended_ = true;
  }
  given_up_ = true;
  Log(ESDB_LOG_WARN,
      absl::StrCat(in_flight_.empty() ? "a sink call did not return within "
                                      : "a submitted sink write did not complete within ",
                   absl::FormatDuration(options_.stop_timeout),
                   " of the stop request; the runner is given up without a final checkpoint "
                   "(the next start delivers again from the last one)"));
  probe_.reset();
  subscription_.reset();
  // Completions still outstanding: closing the instance under them is not allowed.
  if (sink_ && !in_flight_.empty()) sink_->Abandon();
  sink_.reset();  // the hung call holds its own reference and closes the sink if it returns
  call_.reset();
  options_.metrics->caught_up = false;
}

void Runner::Kill() {
  {
    absl::MutexLock lock(&mu_);
    killed_ = true;
  }
  Stop();
}

bool Runner::stop_requested() const {
  absl::MutexLock lock(&mu_);
  return stop_requested_;
}

void Runner::Log(int32_t level, const std::string& message) const {
  options_.node->Log(level, absl::StrCat("connector ", options_.connector_id, ": ", message));
}

void Runner::Report(RunnerEvent::Kind kind, std::string message) {
  if (kind == RunnerEvent::Kind::kFailed) options_.metrics->failures++;
  if (options_.on_event) options_.on_event(RunnerEvent{kind, std::move(message)});
}

void Runner::ReportHealthy() {
  if (healthy_reported_) return;
  healthy_reported_ = true;
  Report(RunnerEvent::Kind::kHealthy);
}

// --- the node's side -------------------------------------------------------------------------

void Runner::OnEventBlock(RecordBlock block) {
  if (block.empty()) return;
  const Position last = block.back().position;
  std::optional<Position> activity;
  for (size_t i = block.size(); i-- > 0;) {
    if (IsActivityStream(block[i].stream, filter_.spec().include_system)) {
      activity = block[i].position;
      break;
    }
  }
  // For the connectors the node filters (MaybeProbe); include_system makes `activity` wider.
  if (activity && !filter_.spec().include_system) pools_->activity().Note(*activity);
  // The node filter is a superset of the connector's. Its own dead letters would come back to
  // the sink that refused them, for ever.
  block.Filter([this](const RecordView& r) {
    return filter_.Matches(r.stream, r.event_type) && r.stream != options_.dead_letter_stream;
  });
  std::shared_ptr<const RecordBlock> records;
  if (!block.empty()) records = std::make_shared<const RecordBlock>(std::move(block));
  bool wake;
  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_ || closing_) return;  // never delivered, never checkpointed past
    if (shedding_) return;                     // read again by the next subscription
    last_enqueued_ = last;
    if (activity) last_activity_ = activity;
    if (!records) return;
    queued_records_ += records->size();
    SetQueuedBytes(queued_bytes_ + records->MemoryBytes());
    queue_.push_back(Item{Item::Kind::kRecords, std::move(records), 0, {}, {}, 0});
    options_.metrics->caught_up = false;
    // The task ends the subscription: destroying it here, in its own callback, is not allowed.
    if (QueueFull()) pause_ = shedding_ = true;
    wake = pause_ || !in_call_;
  }
  if (wake) task_->Schedule();
}

void Runner::OnEvents(std::vector<Record> events) {
  // Only for completeness: NodeClient hands the runner blocks (OnEventBlock).
  size_t bytes = 0;
  std::vector<RecordView> views;
  views.reserve(events.size());
  for (const Record& r : events) {
    views.push_back(RecordView{r.stream, r.revision, r.position, r.event_id, r.event_type,
                               r.content_type, r.data, r.metadata, r.created_unix_us});
    bytes += RecordBlock::PackedSize(views.back());
  }
  RecordBlock block(bytes, views.size());
  for (const RecordView& v : views) block.Add(v);
  OnEventBlock(std::move(block));
}

void Runner::PushMarker(Item item) {
  bool wake;
  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_ || closing_) return;
    // Past events dropped while shedding, a position would let a checkpoint skip them.
    if (shedding_ && item.kind != Item::Kind::kDropped) return;
    item.generation = generation_;
    if (item.kind != Item::Kind::kDropped) {
      // A notice behind what was queued names nothing new (a caught-up message may name no
      // position, which a node may give as 0): it must not move the resubscribe point back.
      if (last_enqueued_) item.position = std::max(item.position, *last_enqueued_);
      last_enqueued_ = item.position;
    }
    queue_.push_back(std::move(item));
    wake = !in_call_;
  }
  if (wake) task_->Schedule();
}

void Runner::OnCheckpoint(Position p) {
  PushMarker(Item{Item::Kind::kCheckpoint, nullptr, 0, p, {}, 0});
}
void Runner::OnCaughtUp(Position p) {
  PushMarker(Item{Item::Kind::kCaughtUp, nullptr, 0, p, {}, 0});
}
void Runner::OnDropped(absl::Status why) {
  PushMarker(Item{Item::Kind::kDropped, nullptr, 0, {}, std::string(why.message()), 0});
}

// --- the runner's task -----------------------------------------------------------------------

void Runner::Step() {
  while (true) {
    if (call_) {
      bool done;
      {
        absl::MutexLock lock(&call_->mu);
        done = call_->done;
      }
      if (!done) {
        // The call's end wakes the task again. Meanwhile the queue may fill up.
        if (phase_ == Phase::kDelivering || phase_ == Phase::kReplaying) FlowControl();
        return;
      }
      std::shared_ptr<SinkCall> call = std::move(call_);
      {
        absl::MutexLock lock(&mu_);
        in_call_ = false;
      }
      OnCallDone(call_kind_, *call);
      if (call_) return;
    }
    // Only with no sink call in progress: ending starts sink calls of its own.
    if (checkpoint_call_ && phase_ != Phase::kEnded) {
      if (auto e = CheckpointCallDone()) {
        if (phase_ != Phase::kEnding) {
          BeginEnd(*e);
        } else if (exit_ == Exit::kStop) {
          exit_ = *e;  // fenced: no final checkpoint
        }
      } else if (!checkpoint_call_ && phase_ == Phase::kDelivering) {
        // What was acknowledged meanwhile may be due already: not one batch later.
        if (auto due = MaybeCheckpoint(/*force=*/false)) BeginEnd(*due);
      }
    }
    Phase before = phase_;
    switch (phase_) {
      case Phase::kOpening:
        StepOpen();
        break;
      case Phase::kStarting:
        StepStart();
        break;
      case Phase::kReplaying:
        StepReplay();
        break;
      case Phase::kDelivering:
        StepDeliver();
        break;
      case Phase::kEnding:
        StepEnd();
        break;
      case Phase::kEnded:
        return;
    }
    // A step that neither moved on nor started a call has asked for its next wake-up.
    if (call_ || phase_ == before) return;
  }
}

// A sink call as the pool runs it. Holds what it needs itself (the sink, the batch), so that a
// runner given up on while the call hangs can go away.
struct Runner::SinkJob {
  std::shared_ptr<SinkCall> call;
  std::shared_ptr<SerialTask> task;
  std::function<void(SinkCall&)> fn;
};

namespace {

// Set while a sink-call thread runs the step of the runner whose call it has just ended: a call
// that step starts is handed back here instead of to the pool.
struct InlineCall {
  const SerialTask* owner = nullptr;
  std::optional<Runner::SinkJob> next;
};
thread_local InlineCall* t_inline_call = nullptr;

}  // namespace

// The thread that ends a runner's call runs the runner's next step itself (SerialTask::RunHere:
// only if the task is not running or posted already), and then the call that step starts (up to
// kCallsInARow in a row): a runner with records waiting goes from write to write without a hand-off
// between threads. The step never runs while a call is in progress, so a hung call still holds
// only its own thread, and a stop still finds the task free.
void Runner::RunSinkCalls(SinkJob job) {
  InlineCall here;
  InlineCall* const outer = t_inline_call;
  for (int n = 1;; ++n) {
    job.fn(*job.call);
    {
      absl::MutexLock lock(&job.call->mu);
      job.call->done = true;
    }
    std::shared_ptr<SerialTask> task = std::move(job.task);
    job = SinkJob{};  // what the call held goes now (a closed sink is closed here)
    // After kCallsInARow the step still runs here, but its call goes to the pool.
    here.owner = n < kCallsInARow ? task.get() : nullptr;
    t_inline_call = &here;
    task->RunHere();
    t_inline_call = outer;
    if (!here.next) break;
    job = *std::move(here.next);
    here.next.reset();
  }
}

void Runner::StartCall(CallKind kind, std::function<void(SinkCall&)> fn) {
  call_ = std::make_shared<SinkCall>();
  call_kind_ = kind;
  {
    absl::MutexLock lock(&mu_);
    in_call_ = true;
  }
  SinkJob job{call_, task_, std::move(fn)};
  if (t_inline_call != nullptr && t_inline_call->owner == task_.get() && !t_inline_call->next) {
    t_inline_call->next = std::move(job);  // run by this thread once the step returns
    return;
  }
  pools_->sink_calls().Post([job = std::move(job)]() mutable { RunSinkCalls(std::move(job)); });
}

void Runner::OnCallDone(CallKind kind, SinkCall& call) {
  const ConnectorSettings& s = options_.settings;
  switch (kind) {
    case CallKind::kOpen: {
      // While delivering, this replaces an instance lost to a write that never completed.
      const bool replacing = phase_ != Phase::kOpening;
      int64_t& attempt = replacing ? reopen_attempt_ : attempt_;
      if (call.opened) {
        sink_ = std::move(call.opened);
        if (replacing) {
          reopen_ = false;
          reopen_attempt_ = 0;
          return;
        }
        attempt_ = 0;
        retry_at_ = absl::InfinitePast();
        phase_ = Phase::kStarting;
        return;
      }
      absl::Status st =
          call.status.ok() ? absl::InternalError("the plugin opened no instance") : call.status;
      if (!absl::IsUnavailable(st) || !s.resilience_enabled ||
          (s.max_attempts > 0 && attempt >= s.max_attempts)) {
        // A configuration the sink refuses stays refused: no automatic restart cures it.
        RunnerEvent e{RunnerEvent::Kind::kFailed,
                      absl::StrCat("cannot open the sink: ", st.message()),
                      absl::IsInvalidArgument(st)};
        options_.metrics->failures++;
        if (options_.on_event) options_.on_event(e);
        BeginEnd(Exit::kFailed);
        return;
      }
      retry_at_ = absl::Now() + absl::Milliseconds(backoff_.DelayMs(attempt));
      return;
    }
    case CallKind::kWrite: {
      options_.metrics->write_latency.Observe(absl::ToDoubleSeconds(call.took));
      if (call.write.instance_lost) {
        // Never written to or closed again (PluginSink abandoned it); a new one is opened before
        // the retry.
        sink_.reset();
        reopen_ = true;
      }
      if (phase_ == Phase::kReplaying) return OnReplayWritten(call.write);
      return OnWritten(call.write);
    }
    case CallKind::kSubmit:
      return;  // the write's completion comes on its own (Harvest)
    case CallKind::kFlush:
      // Flush before the final checkpoint: a sink may acknowledge before its data is durable,
      // and the checkpoint must never pass what a crash could still lose.
      if (!call.status.ok()) {
        Log(ESDB_LOG_WARN, absl::StrCat("flush failed (", call.status.message(),
                                        "); no final checkpoint, the tail is delivered again"));
      } else if (exit_ != Exit::kFenced) {
        if (MaybeCheckpoint(/*force=*/true) == Exit::kFenced) exit_ = Exit::kFenced;
      }
      return;
    case CallKind::kClose:
      return;
  }
}

void Runner::StepOpen() {
  if (stop_requested()) return BeginEnd(Exit::kStop);
  if (absl::Now() < retry_at_) return task_->ScheduleAt(retry_at_);
  ++attempt_;
  StartCall(CallKind::kOpen, [open = options_.open_sink](SinkCall& c) {
    auto sink = open();
    if (sink.ok()) {
      c.opened = std::move(*sink);
    } else {
      c.status = sink.status();
    }
  });
}

void Runner::StepStart() {
  if (stop_requested()) return BeginEnd(Exit::kStop);
  if (absl::Now() < retry_at_) return task_->ScheduleAt(retry_at_);
  ++attempt_;
  auto p = StartPosition();
  absl::Status st = p.ok() ? Subscribe(*p) : p.status();
  if (st.ok()) {
    start_ = *p;
    safe_ = start_.value_or(Position{});
    last_checkpoint_time_ = absl::Now();
    unsaved_since_ = absl::InfiniteFuture();
    DrawCheckpointStagger();
    attempt_ = 0;
    retry_at_ = absl::InfinitePast();
    delivering_ = true;
    phase_ = Phase::kDelivering;
    Report(RunnerEvent::Kind::kRunning);
    if (options_.replay_request >= 0) {
      // The dead letters that no replay of this request has sent yet, in their order.
      auto ledger =
          ReadDeadLetters(*options_.node, options_.dead_letter_stream, options_.connector_id,
                          options_.generation, options_.replay_request);
      if (!ledger.ok()) {
        Log(ESDB_LOG_WARN,
            absl::StrCat("cannot read the dead letters to replay them: ", ledger.status().message(),
                         "; the replay is tried again at the next start"));
        return;
      }
      for (DeadLetter& d : ledger->pending) {
        if (!ledger->tried.contains(d.revision) && d.stored_us <= options_.replay_until_us) {
          replay_.push_back(std::move(d));
        }
      }
      if (!replay_.empty()) {
        Log(ESDB_LOG_INFO, absl::StrCat("replaying ", replay_.size(), " dead letters from ",
                                        options_.dead_letter_stream));
        phase_ = Phase::kReplaying;
      }
    }
    return;
  }
  // A conflict on the start claim usually means the previous owner wrote its final checkpoint in
  // between: load it and claim again. Only a runner that keeps losing is fenced.
  if (absl::IsAborted(st) && ++claim_conflicts_ >= kClaimAttempts) {
    Report(RunnerEvent::Kind::kFenced, std::string(st.message()));
    return BeginEnd(Exit::kFenced);
  }
  if (absl::IsFailedPrecondition(st)) {  // a stream it needs is deleted for ever
    options_.metrics->failures++;
    if (options_.on_event) {
      options_.on_event(RunnerEvent{RunnerEvent::Kind::kFailed, std::string(st.message()), true});
    }
    return BeginEnd(Exit::kFailed);
  }
  Log(ESDB_LOG_WARN, absl::StrCat("cannot start: ", st.message()));
  retry_at_ = absl::Now() + absl::Milliseconds(backoff_.DelayMs(attempt_));
  task_->ScheduleAt(retry_at_);
}

void Runner::StepDeliver() {
  for (int i = 0; i < kItemsPerStep; ++i) {
    if (stop_requested()) return BeginEnd(Exit::kStop);
    FlowControl();
    absl::Time wake = absl::InfiniteFuture();
    if (!in_flight_.empty()) {
      wake = Harvest(/*ending=*/false);
      if (phase_ != Phase::kDelivering) return;
    }
    // A marker waits until everything before it is acknowledged: the writes in flight, and a
    // batch that failed among them with the ones resent after it.
    if (deferred_marker_ && in_flight_.empty() && !batch_ && suspects_.empty() && resend_.empty()) {
      Item marker = *std::move(deferred_marker_);
      deferred_marker_.reset();
      HandleMarker(marker);
      if (phase_ != Phase::kDelivering) return;
      if (auto e = MaybeCheckpoint(/*force=*/false)) return BeginEnd(*e);
      continue;
    }
    const bool pipeline = CanPipeline();
    // Submitted writes hold up what cannot go beside them: a write of the sync path, or one more
    // than maxInFlight.
    const bool blocked =
        draining_ ||
        (!in_flight_.empty() &&
         (!pipeline || in_flight_.size() >= static_cast<size_t>(options_.settings.max_in_flight)));
    if (blocked) {
      // A completion (or the earliest write deadline) wakes the task.
    } else if (batch_) {  // written before and answered RETRY
      if (RetryBatch()) return;
      wake = std::min(wake, retry_at_);
    } else if (!suspects_.empty()) {
      // Isolating a record the sink refuses: the records of that batch go first, in parts.
      size_t n = std::clamp<size_t>(next_size_, 1, suspects_.size());
      batch_ = std::make_shared<std::vector<Record>>(suspects_.begin(), suspects_.begin() + n);
      suspects_.erase(suspects_.begin(), suspects_.begin() + n);
      batch_from_suspects_ = true;
      attempt_ = 0;
      return WriteBatch();
    } else if (!resend_.empty()) {
      // Submitted after a write that failed: written again, in order, before anything new.
      std::shared_ptr<std::vector<Record>> batch = std::move(resend_.front());
      resend_.pop_front();
      if (pipeline) return SubmitBatch(std::move(batch));
      batch_ = std::move(batch);
      attempt_ = 0;
      batch_from_suspects_ = false;
      return WriteBatch();
    } else if (deferred_marker_) {
      // Nothing after the marker goes before it; the writes before it are in flight.
    } else if (checkpoint_call_ && since_checkpoint_ - checkpoint_call_->records >=
                                       options_.settings.autocommit_records_threshold) {
      // While a checkpoint is being appended, delivery goes on for one more checkpoint's worth
      // of records at most, then waits for it (its end wakes the task): a crash then replays
      // at most about twice what it would with checkpoints written in line, and a node that
      // does not answer stops delivery here rather than letting it run on without checkpoints.
    } else {
      Work w = TakeWork();
      if (w.batch) {
        attempt_ = 0;
        batch_from_suspects_ = false;
        if (pipeline) {
          std::shared_ptr<std::vector<Record>> batch = std::move(batch_);
          batch_.reset();
          return SubmitBatch(std::move(batch));
        }
        return WriteBatch();
      }
      if (w.marker) {
        if (!in_flight_.empty()) {
          deferred_marker_ = std::move(w.marker);
          continue;
        }
        HandleMarker(*w.marker);
        if (phase_ != Phase::kDelivering) return;
        if (auto e = MaybeCheckpoint(/*force=*/false)) return BeginEnd(*e);
        continue;
      }
      wake = std::min(wake, w.wake);
    }
    // Nothing to hand to the sink now: commit progress if due, and sleep until something is.
    wake = std::min(wake, MaybeProbe());
    if (auto e = MaybeCheckpoint(/*force=*/false)) return BeginEnd(*e);
    wake = std::min(wake, CheckpointDue());
    if (wake != absl::InfiniteFuture()) task_->ScheduleAt(wake);
    Publish();
    return;
  }
  Publish();
  task_->Schedule();  // more queued: let other runners have the thread in between
}

bool Runner::CanPipeline() const {
  // The sync path owns the sink while it retries or isolates a batch (errors:tolerance=all
  // isolates one write at a time), and an instance lost to a timeout is replaced first.
  return options_.settings.max_in_flight > 1 && sink_ && sink_->pipelined() && !batch_ &&
         suspects_.empty() && !held_ && !reopen_;
}

void Runner::SubmitBatch(std::shared_ptr<std::vector<Record>> batch) {
  auto slot = std::make_shared<WriteSlot>();
  const absl::Time now = absl::Now();
  in_flight_.push_back(
      InFlight{batch, slot, now, now + absl::Milliseconds(options_.settings.write_timeout_ms)});
  // One call at a time on the pool (StartCall), so write() is never called concurrently and
  // batches reach the plugin in log order; the completion may come from any thread, any time.
  StartCall(CallKind::kSubmit,
            [sink = sink_, batch = std::move(batch), slot, task = task_](SinkCall&) {
              sink->Submit(batch, [slot, task](SinkResult r) {
                {
                  absl::MutexLock lock(&slot->mu);
                  if (slot->result) return;
                  slot->result = std::move(r);
                  slot->finished = absl::Now();
                }
                task->Schedule();
              });
            });
}

void Runner::Acknowledge(const std::vector<Record>& batch) {
  ConnectorMetrics& m = *options_.metrics;
  m.records_delivered += batch.size();
  m.batches_delivered++;
  m.delivered_position = batch.back().position.commit;
  safe_ = std::max(safe_, batch.back().position);
  since_checkpoint_ += static_cast<int64_t>(batch.size());
  ReportHealthy();
}

absl::Time Runner::Harvest(bool ending) {
  const absl::Time now = absl::Now();
  absl::Time wake = absl::InfiniteFuture();
  bool all_done = true;
  bool lost = false;
  for (const InFlight& f : in_flight_) {
    absl::MutexLock lock(&f.slot->mu);
    if (!f.slot->result) {
      all_done = false;
      if (now >= f.deadline) {
        lost = true;
      } else {
        wake = std::min(wake, f.deadline);
      }
    } else if (f.slot->result->outcome != SinkOutcome::kOk) {
      draining_ = true;
    }
  }
  // The acknowledged prefix: only there may `safe_` move.
  while (!in_flight_.empty()) {
    InFlight& f = in_flight_.front();
    absl::Duration took;
    {
      absl::MutexLock lock(&f.slot->mu);
      if (!f.slot->result || f.slot->result->outcome != SinkOutcome::kOk) break;
      took = f.slot->finished - f.started;
    }
    options_.metrics->write_latency.Observe(absl::ToDoubleSeconds(took));
    std::shared_ptr<std::vector<Record>> batch = std::move(f.batch);
    in_flight_.pop_front();
    Acknowledge(*batch);
    if (!ending) {
      if (auto e = MaybeCheckpoint(/*force=*/false)) {
        BeginEnd(*e);
        return absl::InfiniteFuture();  // StepEnd takes in the rest
      }
    }
  }
  if (in_flight_.empty()) {
    draining_ = false;
    return wake;
  }
  if (!lost && !(draining_ && all_done)) return wake;
  // The first unacknowledged write failed (and every other one has completed), or a write never
  // completed in time. The first unacknowledged batch goes the sync path; those after it, even
  // when acknowledged, are written again (after it, so the order of first delivery holds).
  InFlight front = std::move(in_flight_.front());
  in_flight_.pop_front();
  SinkResult r;
  if (lost) {
    r.outcome = SinkOutcome::kRetry;
    r.message =
        absl::StrCat("a write of ", front.batch->size(), " records (of ", in_flight_.size() + 1,
                     " in flight) did not complete within ", options_.settings.write_timeout_ms,
                     " ms; the sink instance is abandoned and the writes retried on a "
                     "new one");
    r.instance_lost = true;
    if (sink_) sink_->Abandon();  // completions may still come: never closed under them
    sink_.reset();
    reopen_ = !ending;
  } else {
    absl::MutexLock lock(&front.slot->mu);
    r = *front.slot->result;
    options_.metrics->write_latency.Observe(
        absl::ToDoubleSeconds(front.slot->finished - front.started));
  }
  for (auto it = in_flight_.rbegin(); it != in_flight_.rend(); ++it) {
    resend_.push_front(std::move(it->batch));
  }
  in_flight_.clear();
  draining_ = false;
  if (ending) {
    // Neither acknowledged nor checkpointed past: the next start delivers them again.
    resend_.clear();
    return absl::InfiniteFuture();
  }
  batch_ = std::move(front.batch);
  batch_from_suspects_ = false;
  attempt_ = 1;  // the submitted write was the first attempt
  OnWritten(r);
  return absl::InfiniteFuture();
}

bool Runner::RetryBatch() {
  if (absl::Now() < retry_at_) {
    task_->ScheduleAt(retry_at_);
    return false;
  }
  if (reopen_) {
    ++reopen_attempt_;
    StartCall(CallKind::kOpen, [open = options_.open_sink](SinkCall& c) {
      auto sink = open();
      if (sink.ok()) {
        c.opened = std::move(*sink);
      } else {
        c.status = sink.status();
      }
    });
    return true;
  }
  WriteBatch();
  return true;
}

void Runner::StepReplay() {
  if (stop_requested()) return BeginEnd(Exit::kStop);
  FlowControl();
  if (batch_) {
    RetryBatch();
    return;
  }
  if (replay_.empty()) {
    Log(ESDB_LOG_INFO, "dead-letter replay done");
    phase_ = Phase::kDelivering;
    return;
  }
  // One at a time: each dead letter was refused alone, and is judged alone again.
  batch_ = std::make_shared<std::vector<Record>>(1, replay_.front().record);
  attempt_ = 0;
  WriteBatch();
}

void Runner::OnReplayWritten(const SinkResult& r) {
  const ConnectorSettings& s = options_.settings;
  const DeadLetter& d = replay_.front();
  if (r.outcome == SinkOutcome::kRetry && s.resilience_enabled &&
      (s.max_attempts == 0 || attempt_ < s.max_attempts)) {
    options_.metrics->retries++;
    int64_t delay = backoff_.DelayMs(attempt_);
    Log(ESDB_LOG_WARN,
        absl::StrCat("replay of the dead letter at revision ", d.revision, " failed (", r.message,
                     "); retry ", attempt_, " in ", delay, " ms"));
    retry_at_ = absl::Now() + absl::Milliseconds(delay);
    return;
  }
  ReplayOutcome o{options_.connector_id,         options_.generation,
                  options_.replay_request,       d.revision,
                  r.outcome == SinkOutcome::kOk, r.message};
  if (o.delivered) {
    options_.metrics->records_delivered++;
    options_.metrics->dead_letters_replayed++;
  } else {
    Log(ESDB_LOG_WARN,
        absl::StrCat("the dead letter at revision ", d.revision, " was refused again (", r.message,
                     "); it stays a dead letter"));
  }
  // Recorded beside it, never deleted: the stream keeps the history. A delivery that is not
  // recorded (node unavailable) stays pending and is replayed again by the next replay.
  EventData marker = MakeReplayOutcome(o, options_.host_id);
  auto appended = options_.node->Append(options_.dead_letter_stream, ESDB_EXPECT_ANY,
                                        std::span<const EventData>(&marker, 1));
  if (!appended.ok()) {
    Log(ESDB_LOG_WARN, absl::StrCat("cannot record the replay of the dead letter at revision ",
                                    d.revision, ": ", appended.status().message()));
  }
  replay_.pop_front();
  batch_.reset();
  attempt_ = 0;
}

void Runner::OnWritten(const SinkResult& r) {
  const ConnectorSettings& s = options_.settings;
  ConnectorMetrics& m = *options_.metrics;
  if (r.outcome == SinkOutcome::kOk) {
    // A record held back because it kept failing alone: the sink works, so that record is bad.
    if (held_) {
      Held held = *std::move(held_);
      held_.reset();
      if (!SetAside(held.record, held.error, held.attempts)) return;
    }
    m.records_delivered += batch_->size();
    m.batches_delivered++;
    m.delivered_position = batch_->back().position.commit;
    safe_ = batch_->back().position;
    since_checkpoint_ += static_cast<int64_t>(batch_->size());
    // After the first part of a refused batch went through, the rest holds the bad record.
    if (batch_from_suspects_) next_size_ = suspects_.size();
    // Kept for the next batch, whose records then reuse these strings' memory: with many
    // connectors, allocating and freeing each record's fields was a good part of the work. Only
    // when nothing else holds it (the finished call has let it go).
    if (batch_.use_count() == 1) spare_ = std::move(batch_);
    batch_.reset();
    attempt_ = 0;
    ReportHealthy();
    if (auto e = MaybeCheckpoint(/*force=*/false)) BeginEnd(*e);
    return;
  }
  const bool retry = r.outcome == SinkOutcome::kRetry;
  std::string why;
  if (!retry) {
    why = absl::StrCat("sink failed: ", r.message);
  } else {
    m.retries++;
    if (!s.resilience_enabled) {
      why = absl::StrCat("sink asked for a retry but resilience is disabled: ", r.message);
    } else if (s.max_attempts > 0 && attempt_ >= s.max_attempts) {
      why = absl::StrCat("sink still failing after ", attempt_, " attempts: ", r.message);
    } else {
      int64_t delay = backoff_.DelayMs(attempt_);
      Log(ESDB_LOG_WARN, absl::StrCat("write of ", batch_->size(), " records failed (", r.message,
                                      "); retry ", attempt_, " in ", delay, " ms"));
      retry_at_ = absl::Now() + absl::Milliseconds(delay);
      return;
    }
  }
  if (s.errors_tolerance == ErrorTolerance::kAll) return Isolate(r, retry, why);
  Report(RunnerEvent::Kind::kFailed, why);
  BeginEnd(Exit::kFailed);
}

// Splitting keeps order and at-least-once: the parts are written front to back, each only after
// the one before it was acknowledged, and `safe_` never passes a record that was neither
// acknowledged nor set aside. A record is set aside only when written alone (or named by the
// sink), so no record is both delivered and set aside.
void Runner::Isolate(const SinkResult& r, bool retry, const std::string& why) {
  std::vector<Record>& batch = *batch_;
  if (held_) {
    if (retry) {
      // The record held back was not alone in failing: the sink, not a record, is at fault.
      Report(RunnerEvent::Kind::kFailed,
             absl::StrCat(why, " (after the record at position ", held_->record.position.ToString(),
                          " had kept failing alone: the destination fails, not a record)"));
      return BeginEnd(Exit::kFailed);
    }
    // A FATAL answer is an answer: the destination judges records, so the held one is bad.
    Held held = *std::move(held_);
    held_.reset();
    if (!SetAside(held.record, held.error, held.attempts)) return;
  }
  size_t bad = 0;
  if (r.failed_index) {
    // The sink named the record: those before it were delivered.
    bad = *r.failed_index;
    if (bad > 0) {
      ConnectorMetrics& m = *options_.metrics;
      m.records_delivered += bad;
      m.delivered_position = batch[bad - 1].position.commit;
      safe_ = batch[bad - 1].position;
      since_checkpoint_ += static_cast<int64_t>(bad);
    }
    suspects_.insert(suspects_.begin(), batch.begin() + bad + 1, batch.end());
  } else if (batch.size() > 1) {
    // Which one it is, the halves will tell: the first half is written next, then the rest.
    next_size_ = batch.size() / 2;
    suspects_.insert(suspects_.begin(), batch.begin(), batch.end());
    batch_.reset();
    attempt_ = 0;
    return;
  }
  Record record = std::move(batch[bad]);
  const int64_t attempts = attempt_;
  batch_.reset();
  attempt_ = 0;
  if (retry) {
    Log(ESDB_LOG_WARN,
        absl::StrCat("the record at position ", record.position.ToString(), " (stream ",
                     record.stream, ") keeps failing alone (", r.message,
                     "); it is set aside once the sink accepts a later record"));
    held_ = Held{std::move(record), r.message, attempts};
    next_size_ = 1;
    return;
  }
  if (!SetAside(record, r.message, attempts)) return;
  next_size_ = suspects_.size();
  // Saved at once, so that the count shows and a crash sets it aside again only rarely.
  if (auto e = MaybeCheckpoint(/*force=*/options_.settings.autocommit_enabled)) BeginEnd(*e);
}

bool Runner::SetAside(const Record& record, const std::string& error, int64_t attempts) {
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  DeadLetterContext context{options_.connector_id,
                            options_.generation,
                            options_.epoch,
                            options_.host_id,
                            error,
                            attempts,
                            now_us};
  auto appended = dead_letters_->Append(MakeDeadLetter(record, context));
  if (!appended.ok()) {
    options_.metrics->failures++;
    if (options_.on_event) {
      options_.on_event(RunnerEvent{
          RunnerEvent::Kind::kFailed,
          absl::StrCat("cannot set the refused record at position ", record.position.ToString(),
                       " aside: ", appended.status().message()),
          absl::IsFailedPrecondition(appended.status())});
    }
    BeginEnd(Exit::kFailed);
    return false;
  }
  // Counted even when it was there already: the checkpoint that counted it had not been written.
  checkpoints_.AddDeadLetter(error, now_us);
  options_.metrics->dead_letters++;
  Log(ESDB_LOG_WARN,
      absl::StrCat("the record at position ", record.position.ToString(), " (stream ",
                   record.stream, ", revision ", record.revision, ") was refused by the sink (",
                   error, "); set aside in the dead-letter stream ", options_.dead_letter_stream));
  safe_ = std::max(safe_, record.position);
  ++since_checkpoint_;
  return true;
}

void Runner::WriteBatch() {
  ++attempt_;
  StartCall(CallKind::kWrite, [sink = sink_, batch = batch_](SinkCall& c) {
    absl::Time t0 = absl::Now();
    c.write = sink->Write(*batch);
    c.took = absl::Now() - t0;
  });
}

void Runner::BeginEnd(Exit exit) {
  exit_ = exit;
  phase_ = Phase::kEnding;
  bool killed;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    killed = killed_;
    queue_.clear();  // never delivered, so never checkpointed: the next start delivers them
    queued_records_ = 0;
    SetQueuedBytes(0);
  }
  staged_.clear();
  // Neither delivered nor set aside: after the last checkpoint, so the next start has them again.
  suspects_.clear();
  held_.reset();
  replay_.clear();
  resend_.clear();
  deferred_marker_.reset();
  probe_.reset();
  probe_handler_.reset();
  subscription_.reset();
  // Only a runner that delivered flushes and writes a final checkpoint; one that ends before
  // (stopped while opening, failed to open, fenced at its claim) just closes its sink.
  end_step_ = delivering_ && !killed ? EndStep::kFlush : EndStep::kClose;
}

void Runner::StepEnd() {
  // A checkpoint still being appended ends first (its end wakes the task): the final one comes
  // after it, and nothing of the runner may be left running once it has ended.
  if (checkpoint_call_) return;
  // Submitted writes end first: the flush and the final checkpoint come after every completion
  // (or the instance is abandoned when one never comes), and close() never runs under one.
  if (!in_flight_.empty()) {
    absl::Time wake = Harvest(/*ending=*/true);
    if (!in_flight_.empty()) {
      if (wake != absl::InfiniteFuture()) task_->ScheduleAt(wake);
      return;
    }
  }
  switch (end_step_) {
    case EndStep::kFlush:
      end_step_ = EndStep::kClose;
      // An instance lost to a hung write has nothing to flush, so no final checkpoint.
      if (!sink_) return StepEnd();
      return StartCall(CallKind::kFlush, [sink = sink_](SinkCall& c) { c.status = sink->Flush(); });
    case EndStep::kClose:
      end_step_ = EndStep::kDone;
      if (sink_) {
        // The last reference goes with the call, so the sink is closed on the pool thread.
        return StartCall(CallKind::kClose,
                         [sink = std::move(sink_)](SinkCall&) mutable { sink.reset(); });
      }
      break;
    case EndStep::kDone:
      break;
  }
  bool killed;
  {
    absl::MutexLock lock(&mu_);
    killed = killed_;
  }
  if (exit_ == Exit::kStop && delivering_ && !killed) Report(RunnerEvent::Kind::kStopped);
  phase_ = Phase::kEnded;
  options_.metrics->caught_up = false;
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  if (options_.on_ended) options_.on_ended();
}

absl::Status Runner::Claim(Position p) {
  if (auto s = checkpoints_.Save(p, options_.epoch); !s.ok()) return s;
  saved_ = p;
  options_.metrics->checkpoint_position = p.commit;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Position>> Runner::StartPosition() {
  auto checkpoint = checkpoints_.Load();
  if (!checkpoint.ok()) return checkpoint.status();
  if (*checkpoint && (*checkpoint)->epoch >= options_.epoch) {
    // Claim the connector: any other runner of it is fenced off at its next checkpoint.
    Position p = (*checkpoint)->position;
    if (auto s = Claim(p); !s.ok()) return s;
    return p == Position{} ? std::nullopt : std::optional<Position>(p);
  }
  // No checkpoint of the current epoch: the reset/enable position, else the initial setting.
  std::optional<Position> start;
  if (options_.epoch_position) {
    start = options_.epoch_position;
  } else if (options_.settings.initial == InitialPosition::kPosition) {
    start = options_.settings.initial_position;
  } else if (options_.settings.initial == InitialPosition::kLatest) {
    auto last = options_.node->LastPosition();
    if (!last.ok()) return last.status();
    start = *last;
  }
  if (start && *start == Position{}) start.reset();  // "after nothing" is the start
  // Pin the start now so that a crash before the first checkpoint cannot move "latest"; this
  // also claims the connector, as above.
  if (auto s = Claim(start.value_or(Position{})); !s.ok()) return s;
  return start;
}

absl::Status Runner::Subscribe(std::optional<Position> after) {
  subscription_.reset();  // no callback of the old subscription runs after this
  {
    absl::MutexLock lock(&mu_);
    ++generation_;
    pause_ = false;
    shedding_ = false;
    if (after) last_enqueued_ = std::max(last_enqueued_.value_or(*after), *after);
  }
  caught_up_ = false;
  SubscribeOptions o;
  if (after) {
    o.from = SubscribeOptions::From::kPosition;
    o.position = *after;
  } else {
    o.from = SubscribeOptions::From::kStart;
  }
  o.filter = filter_.ToServerFilter();
  o.checkpoint_interval = options_.scan_checkpoint_interval;
  auto sub = options_.node->SubscribeAll(o, this);
  if (!sub.ok()) return sub.status();
  subscription_ = std::move(*sub);
  return absl::OkStatus();
}

void Runner::FlowControl() {
  bool pause;
  size_t queued;
  {
    absl::MutexLock lock(&mu_);
    pause = pause_;
    pause_ = false;
  }
  if (pause && subscription_ && !need_subscribe_) {
    // The queue is full. Rather than block the node's thread (shared with other subscriptions),
    // end the subscription; everything it sent is queued, so a new one after the last queued
    // position loses and repeats nothing.
    subscription_.reset();
    need_subscribe_ = true;
    caught_up_ = false;
    subscribe_attempt_ = 0;
    subscribe_at_ = absl::InfinitePast();
  }
  size_t queued_bytes;
  std::optional<Position> from;
  {
    absl::MutexLock lock(&mu_);
    queued = queued_records_;
    queued_bytes = queued_bytes_;
    from = last_enqueued_;
  }
  // Below half the capacity, so that a subscription is not made for a handful of records.
  if (!need_subscribe_ || queued > options_.queue_capacity / 2 || queued_bytes > QueueBytes() / 2 ||
      (queued_bytes >= kMinQueueBytes / 2 && pools_->queue_budget().Exceeded())) {
    return;
  }
  absl::Time now = absl::Now();
  if (now < subscribe_at_) return task_->ScheduleAt(subscribe_at_);
  absl::Status st = Subscribe(from ? from : start_);
  if (st.ok()) {
    need_subscribe_ = false;
    subscribe_attempt_ = 0;
    return;
  }
  ++subscribe_attempt_;
  subscribe_at_ = now + absl::Milliseconds(backoff_.DelayMs(subscribe_attempt_));
  Log(ESDB_LOG_WARN, absl::StrCat("cannot subscribe again: ", st.message()));
  task_->ScheduleAt(subscribe_at_);
}

Runner::Work Runner::TakeWork() {
  const ConnectorSettings& s = options_.settings;
  Work w;
  {
    // What the node's callbacks queued moves to the task's side at once: they wait for a few
    // pointer moves at most, never for the batching and the copies below.
    absl::MutexLock lock(&mu_);
    for (Item& item : queue_) staged_.push_back(std::move(item));
    queue_.clear();
  }
  if (staged_.empty()) {
    filling_since_ = absl::InfiniteFuture();
    return w;
  }
  if (staged_.front().kind != Item::Kind::kRecords) {
    // Markers go alone, so they stay in order with the records.
    w.marker = std::move(staged_.front());
    staged_.pop_front();
    return w;
  }
  size_t n = 0;
  size_t bytes = 0;
  bool full = false;
  for (const Item& item : staged_) {
    if (item.kind != Item::Kind::kRecords) {
      full = true;  // nothing more can join this batch
      break;
    }
    for (size_t i = item.next; i < item.block->size(); ++i) {
      if (n >= static_cast<size_t>(s.batch_size)) {
        full = true;
        break;
      }
      size_t size = (*item.block)[i].ByteSize();
      if (n > 0 && bytes + size > static_cast<size_t>(s.batch_max_bytes)) {
        full = true;
        break;
      }
      bytes += size;
      ++n;
    }
    if (full) break;
  }
  full = full || n >= static_cast<size_t>(s.batch_size);
  if (!full) {
    // Once a batch has a record it waits at most batchTimeoutMs for more.
    absl::Time now = absl::Now();
    if (filling_since_ == absl::InfiniteFuture()) filling_since_ = now;
    absl::Time deadline = filling_since_ + absl::Milliseconds(s.batch_timeout_ms);
    if (now < deadline) {
      w.wake = deadline;
      return w;
    }
  }
  if (spare_) {
    batch_ = std::move(spare_);
    batch_->resize(n);  // the records kept keep their strings' capacity
  } else {
    batch_ = std::make_shared<std::vector<Record>>(n);
  }
  size_t out = 0;
  size_t freed = 0;
  for (size_t left = n; left > 0;) {
    Item& front = staged_.front();
    const size_t take = std::min(left, front.block->size() - front.next);
    for (size_t i = front.next; i < front.next + take; ++i) {
      (*front.block)[i].AssignTo((*batch_)[out++]);
    }
    front.next += take;
    left -= take;
    if (front.next == front.block->size()) {
      freed += front.block->MemoryBytes();
      staged_.pop_front();
    }
  }
  filling_since_ = absl::InfiniteFuture();
  {
    absl::MutexLock lock(&mu_);
    queued_records_ -= n;
    SetQueuedBytes(queued_bytes_ - freed);
  }
  w.batch = true;
  return w;
}

void Runner::HandleMarker(const Item& marker) {
  uint64_t generation;
  {
    absl::MutexLock lock(&mu_);
    generation = generation_;
  }
  if (marker.kind == Item::Kind::kDropped) {
    if (marker.generation != generation) return;  // that subscription was replaced already
    Log(ESDB_LOG_WARN, absl::StrCat(marker.why, "; resubscribing"));
    subscription_.reset();
    need_subscribe_ = true;
    caught_up_ = false;
    subscribe_attempt_ = 0;
    subscribe_at_ = absl::InfinitePast();
    return;
  }
  // Everything before the marker has been acknowledged, and nothing between the last record and
  // the marker matched: progress that is safe to commit (only when autocommit is on).
  if (!held_) {
    safe_ = std::max(safe_, marker.position);
    marker_progress_ = options_.settings.autocommit_enabled;
  }
  if (marker.kind == Item::Kind::kCaughtUp && marker.generation == generation) {
    caught_up_ = true;
    if (!held_) ReportHealthy();  // nothing the sink refuses is waiting
  }
}

bool Runner::ActivitySinceCheckpoint() const {
  absl::MutexLock lock(&mu_);
  return last_activity_ && (!saved_ || *last_activity_ > *saved_);
}

// The autocommit policy. A checkpoint is due when records were acknowledged since the last one
// (after recordsThreshold records or `interval` ms, or a second after a scan notice), or when
// scan notices moved the position past an event the connector could have delivered (a second
// after the notice). Scan progress over nothing but the library's own events (its checkpoints,
// lifecycle events, heartbeats) is never worth a checkpoint: if it were, every checkpoint would
// make every other connector checkpoint in turn, and the log would grow forever with nothing
// happening. Such progress is kept in memory (lag, resubscriptions) and saved by the final
// checkpoint of a clean stop; after a crash the connector scans those events again, which the
// node does without sending them. A connector the node filters never sees the user events its
// filter skips, so it asks a probe (MaybeProbe) whether there were any.
absl::Time Runner::CheckpointDue() const {
  const ConnectorSettings& s = options_.settings;
  if (checkpoint_call_) return absl::InfiniteFuture();  // its end wakes the task
  if (!s.autocommit_enabled || (saved_ && safe_ <= *saved_)) return absl::InfiniteFuture();
  if (checkpoint_soon_) return absl::InfinitePast();
  if (since_checkpoint_ == 0 && !ActivitySinceCheckpoint()) return absl::InfiniteFuture();
  const CheckpointStagger& j = stagger_;
  // Timed from the first thing left unsaved: after a quiet spell, connectors that the same
  // event wakes do not all find their interval long past.
  const absl::Time from = unsaved_since_ == absl::InfiniteFuture()
                              ? last_checkpoint_time_
                              : std::max(last_checkpoint_time_, unsaved_since_);
  absl::Time due = since_checkpoint_ + j.records >= s.autocommit_records_threshold
                       ? absl::InfinitePast()
                       : from + absl::Milliseconds(s.autocommit_interval_ms - j.interval_ms);
  if (marker_progress_) due = std::min(due, from + options_.scan_checkpoint_gap + j.marker_delay);
  return std::max(due, checkpoint_retry_at_);
}

// Connectors that read the same events would reach their thresholds on the same event, and
// those that checkpointed together once (at a start, on the same scan notice) would stay in
// step: hundreds of checkpoint appends in one burst, each a node call on the executor that
// every runner shares, and every runner's next step behind them. So each checkpoint has
// thresholds of its own, drawn from the connector id and the number of draws: up to a quarter
// of recordsThreshold and of the interval sooner, and up to half a scan gap later after a
// notice (so "a second or more" holds). Redrawn at every start and checkpoint, so connectors
// that happen to checkpoint together drift apart again at once.
void Runner::DrawCheckpointStagger() {
  const ConnectorSettings& s = options_.settings;
  const uint64_t seed = std::hash<std::string>{}(options_.connector_id) + (++stagger_.draws << 2);
  auto up_to = [seed](uint64_t salt, int64_t max) {  // splitmix64 of (id hash, draw, salt)
    uint64_t z = (seed + salt) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<int64_t>(z % (static_cast<uint64_t>(std::max<int64_t>(max, 0)) + 1));
  };
  stagger_.records = up_to(0, s.autocommit_records_threshold / 4);
  stagger_.interval_ms = up_to(1, s.autocommit_interval_ms / 4);
  stagger_.marker_delay =
      absl::Milliseconds(up_to(2, absl::ToInt64Milliseconds(options_.scan_checkpoint_gap) / 2));
}

std::optional<Runner::Exit> Runner::MaybeCheckpoint(bool force) {
  if (checkpoint_call_) {
    // The task never waits for it: a forced one is written as soon as it has ended.
    checkpoint_soon_ = checkpoint_soon_ || force;
    return std::nullopt;
  }
  force = force || checkpoint_soon_;
  checkpoint_soon_ = false;
  if (saved_ && safe_ <= *saved_) return std::nullopt;
  // Called after every batch and notice: close enough. Scan progress over nothing but the
  // library's own events is not worth a checkpoint (see CheckpointDue), so it does not count
  // until an activity event is passed.
  if (unsaved_since_ == absl::InfiniteFuture() &&
      (since_checkpoint_ > 0 || (marker_progress_ && ActivitySinceCheckpoint()))) {
    unsaved_since_ = absl::Now();
  }
  if (!force && absl::Now() < CheckpointDue()) return std::nullopt;
  CheckpointStore::Pending pending = checkpoints_.Prepare(safe_, options_.epoch);
  if (force) {
    return OnCheckpointWritten(CheckpointStore::Write(pending), safe_, since_checkpoint_);
  }
  // Appended as a job of its own on the task executor (a node call, like the runner's other
  // steps; never behind hung sink calls), so that the runner's next batch need not wait for it.
  // Fencing is as before: the append expects the revision of the last checkpoint, and a runner
  // that finds itself fenced stops without writing more.
  auto call = std::make_shared<CheckpointCall>();
  call->position = safe_;
  call->records = since_checkpoint_;
  checkpoint_call_ = call;
  pools_->tasks().Post([call, pending = std::move(pending), task = task_] {
    absl::StatusOr<int64_t> revision = CheckpointStore::Write(pending);
    {
      absl::MutexLock lock(&call->mu);
      call->revision = std::move(revision);
      call->done = true;
    }
    task->Schedule();
  });
  return std::nullopt;
}

std::optional<Runner::Exit> Runner::CheckpointCallDone() {
  {
    absl::MutexLock lock(&checkpoint_call_->mu);
    if (!checkpoint_call_->done) return std::nullopt;
  }
  std::shared_ptr<CheckpointCall> call = std::move(checkpoint_call_);
  return OnCheckpointWritten(call->revision, call->position, call->records);
}

std::optional<Runner::Exit> Runner::OnCheckpointWritten(const absl::StatusOr<int64_t>& revision,
                                                        Position position, int64_t records) {
  const absl::Status& st = revision.status();
  if (absl::IsAborted(st)) {
    Report(RunnerEvent::Kind::kFenced, std::string(st.message()));
    return Exit::kFenced;
  }
  if (absl::IsFailedPrecondition(st)) {  // tombstoned: it would never checkpoint again
    Report(RunnerEvent::Kind::kFailed, std::string(st.message()));
    return Exit::kFailed;
  }
  if (!st.ok()) {
    // Not fatal: progress is only delayed. Tried again a little later.
    Log(ESDB_LOG_WARN, absl::StrCat("checkpoint failed: ", st.message()));
    checkpoint_retry_at_ = absl::Now() + options_.scan_checkpoint_gap;
    return std::nullopt;
  }
  checkpoints_.Commit(*revision);
  saved_ = position;
  // Records acknowledged while it was being appended count towards the next one.
  since_checkpoint_ = std::max<int64_t>(0, since_checkpoint_ - records);
  if (safe_ <= position) marker_progress_ = false;
  last_checkpoint_time_ = absl::Now();
  unsaved_since_ = absl::InfiniteFuture();
  DrawCheckpointStagger();
  checkpoint_retry_at_ = absl::InfinitePast();
  options_.metrics->checkpoints++;
  options_.metrics->checkpoint_position = position.commit;
  return std::nullopt;
}

// Only for a connector the node filters, with autocommit on, when scan notices moved its position
// and nothing it saw says whether user events were skipped. The probe subscribes after the last
// checkpoint (or after what an earlier probe found clean), with a node-side filter that passes
// only such events, so the node scans and sends at most one batch. One probe at a time; the wait
// between probes doubles while they find nothing (up to kMaxProbeGap), so a connector costs next
// to nothing while only bookkeeping is written, and restarts stay cheap while user events flow.
// Returns when to look again.
absl::Time Runner::MaybeProbe() {
  if (!node_filtered_ || !options_.settings.autocommit_enabled) return absl::InfiniteFuture();
  absl::Time now = absl::Now();
  if (probe_) {
    ActivityProbe::Result r = probe_handler_->result();
    if (!r.done) return absl::InfiniteFuture();  // its end wakes the task
    probe_.reset();
    probe_handler_.reset();
    clean_to_ = std::max(clean_to_, r.clean_to);
    if (r.found) {
      if (!filter_.spec().include_system) pools_->activity().Note(*r.found);
      absl::MutexLock lock(&mu_);
      last_activity_ = std::max(last_activity_.value_or(Position{}), *r.found);
      probe_gap_ = options_.scan_checkpoint_gap;
    } else {
      probe_gap_ = std::min(probe_gap_ * 2, kMaxProbeGap);
    }
    next_probe_at_ = now + probe_gap_;
  }
  bool wanted = marker_progress_ && saved_ && safe_ > *saved_ && safe_ > clean_to_ &&
                !ActivitySinceCheckpoint();
  if (!wanted) return absl::InfiniteFuture();
  Position from = std::max(*saved_, clean_to_);
  // Another runner of this host may have seen a user event there already: no probe then. (A
  // user event is activity with or without includeSystem.)
  if (std::optional<Position> seen = pools_->activity().FindIn(from, safe_)) {
    absl::MutexLock lock(&mu_);
    last_activity_ = std::max(last_activity_.value_or(Position{}), *seen);
    return absl::InfiniteFuture();
  }
  if (now < next_probe_at_) return next_probe_at_;
  bool include_system = filter_.spec().include_system;
  probe_handler_ = std::make_unique<ActivityProbe>(task_, from, safe_, include_system);
  SubscribeOptions o;
  o.from = from == Position{} ? SubscribeOptions::From::kStart : SubscribeOptions::From::kPosition;
  o.position = from;
  if (!include_system) {
    o.filter.enabled = true;
    o.filter.scope = FilterScope::kStream;
    o.filter.regex = "^[^$]";
  }
  o.checkpoint_interval = options_.scan_checkpoint_interval;
  auto sub = options_.node->SubscribeAll(o, probe_handler_.get());
  if (!sub.ok()) {
    probe_handler_.reset();
    next_probe_at_ = now + probe_gap_;
    return next_probe_at_;
  }
  probe_ = std::move(*sub);
  return absl::InfiniteFuture();
}

void Runner::Publish() {
  options_.metrics->handled_position = safe_.commit;
  absl::MutexLock lock(&mu_);
  options_.metrics->caught_up = caught_up_ && subscription_ && !need_subscribe_ &&
                                staged_.empty() && queue_.empty() && !batch_ && !call_ &&
                                suspects_.empty() && !held_;
}

}  // namespace esdb
