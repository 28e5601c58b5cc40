#include "delivery/runner.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace esdb {
namespace {

// Checkpoints driven by the node's scan notices (nothing matched, or caught up) are at most this
// frequent. Each checkpoint is itself an event every connector scans; without a floor, many
// connectors with a small notice interval would keep each other checkpointing forever.
constexpr absl::Duration kScanCheckpointGap = absl::Seconds(1);

// Start claims that may conflict before the runner gives up as fenced.
constexpr int64_t kClaimAttempts = 3;

Filter MakeFilter(const FilterSpec& spec) {
  auto f = Filter::Create(spec);
  // Settings were validated before a runner is made; fall back to "no filter" rather than crash.
  return f.ok() ? *f : *Filter::Create(FilterSpec{});
}

}  // namespace

Runner::Runner(RunnerOptions options)
    : options_(std::move(options)),
      filter_(MakeFilter(options_.settings.filter)),
      backoff_(options_.settings.first_delay_ms, options_.settings.max_delay_ms,
               options_.settings.multiplier),
      checkpoints_(options_.node, options_.connector_id, options_.generation, options_.host_id) {
  if (!options_.metrics) options_.metrics = std::make_shared<ConnectorMetrics>();
}

Runner::~Runner() { Stop(); }

void Runner::Start() { thread_ = std::thread([this] { Run(); }); }

void Runner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void Runner::Kill() {
  {
    absl::MutexLock lock(&mu_);
    killed_ = true;
  }
  Stop();
}

bool Runner::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool Runner::WaitForStop(int64_t ms) {
  absl::MutexLock lock(&mu_);
  absl::Time deadline = absl::Now() + absl::Milliseconds(ms);
  while (!stopping_ && absl::Now() < deadline) cv_.WaitWithDeadline(&mu_, deadline);
  return stopping_;
}

void Runner::Report(RunnerEvent::Kind kind, std::string message) {
  if (kind == RunnerEvent::Kind::kFailed) options_.metrics->failures++;
  if (options_.on_event) options_.on_event(RunnerEvent{kind, std::move(message)});
}

// --- the node's side -------------------------------------------------------------------------

void Runner::OnEvents(std::vector<Record> events) {
  absl::MutexLock lock(&mu_);
  while (!stopping_ && queued_records_ >= options_.queue_capacity) cv_.Wait(&mu_);
  if (stopping_) return;  // never delivered, never checkpointed: seen again after a restart
  for (Record& r : events) {
    last_enqueued_ = r.position;
    if (!filter_.Matches(r.stream, r.event_type)) continue;  // the node filter is a superset
    queue_.push_back(Item{Item::Kind::kRecord, std::move(r), {}, {}});
    ++queued_records_;
  }
  cv_.SignalAll();
}

void Runner::PushMarker(Item item) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  if (item.kind != Item::Kind::kDropped) last_enqueued_ = item.position;
  queue_.push_back(std::move(item));
  cv_.SignalAll();
}

void Runner::OnCheckpoint(Position p) { PushMarker(Item{Item::Kind::kCheckpoint, {}, p, {}}); }
void Runner::OnCaughtUp(Position p) { PushMarker(Item{Item::Kind::kCaughtUp, {}, p, {}}); }
void Runner::OnDropped(absl::Status why) {
  PushMarker(Item{Item::Kind::kDropped, {}, {}, std::string(why.message())});
}

// --- the runner's thread ---------------------------------------------------------------------

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
  subscription_.reset();
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

bool Runner::NextWork(std::vector<Record>& batch, std::optional<Item>& marker) {
  const ConnectorSettings& s = options_.settings;
  absl::MutexLock lock(&mu_);
  absl::Time batch_deadline = absl::InfiniteFuture();
  absl::Time checkpoint_deadline = absl::InfiniteFuture();
  if (s.autocommit_enabled && since_checkpoint_ > 0) {
    checkpoint_deadline = last_checkpoint_time_ + absl::Milliseconds(s.autocommit_interval_ms);
  }
  if (s.autocommit_enabled && scanned_progress_) {
    checkpoint_deadline = std::min(checkpoint_deadline, last_checkpoint_time_ + kScanCheckpointGap);
  }
  size_t bytes = 0;
  while (true) {
    if (stopping_) return false;
    while (!queue_.empty() && queue_.front().kind == Item::Kind::kRecord &&
           batch.size() < static_cast<size_t>(s.batch_size) &&
           (batch.empty() || bytes + queue_.front().record.ByteSize() <=
                                 static_cast<size_t>(s.batch_max_bytes))) {
      bytes += queue_.front().record.ByteSize();
      batch.push_back(std::move(queue_.front().record));
      queue_.pop_front();
      --queued_records_;
    }
    cv_.SignalAll();  // room for the subscription thread
    bool full = batch.size() >= static_cast<size_t>(s.batch_size) ||
                (!queue_.empty() && queue_.front().kind == Item::Kind::kRecord);
    if (!queue_.empty() && queue_.front().kind != Item::Kind::kRecord) {
      if (batch.empty()) {  // markers go alone so they stay in order with the records
        marker = std::move(queue_.front());
        queue_.pop_front();
      }
      return true;
    }
    if (full) return true;
    absl::Time now = absl::Now();
    if (!batch.empty() && batch_deadline == absl::InfiniteFuture()) {
      batch_deadline = now + absl::Milliseconds(s.batch_timeout_ms);
    }
    if (!batch.empty() && now >= batch_deadline) return true;
    if (batch.empty() && now >= checkpoint_deadline) return true;  // time to commit progress
    cv_.WaitWithDeadline(&mu_, std::min(batch_deadline, checkpoint_deadline));
  }
}

std::optional<Runner::Exit> Runner::Deliver(const std::vector<Record>& batch) {
  const ConnectorSettings& s = options_.settings;
  ConnectorMetrics& m = *options_.metrics;
  for (int64_t attempt = 1;; ++attempt) {
    absl::Time t0 = absl::Now();
    SinkResult r = sink_->Write(batch);
    m.write_latency.Observe(absl::ToDoubleSeconds(absl::Now() - t0));
    if (r.outcome == SinkOutcome::kOk) {
      m.records_delivered += batch.size();
      m.batches_delivered++;
      m.delivered_position = batch.back().position.commit;
      return std::nullopt;
    }
    if (r.outcome == SinkOutcome::kFatal) {
      Report(RunnerEvent::Kind::kFailed, absl::StrCat("sink failed: ", r.message));
      return Exit::kFailed;
    }
    m.retries++;
    if (!s.resilience_enabled) {
      Report(RunnerEvent::Kind::kFailed,
             absl::StrCat("sink asked for a retry but resilience is disabled: ", r.message));
      return Exit::kFailed;
    }
    if (s.max_attempts > 0 && attempt >= s.max_attempts) {
      Report(RunnerEvent::Kind::kFailed,
             absl::StrCat("sink still failing after ", attempt, " attempts: ", r.message));
      return Exit::kFailed;
    }
    int64_t delay = backoff_.DelayMs(attempt);
    options_.node->Log(ESDB_LOG_WARN,
                       absl::StrCat("connector ", options_.connector_id, ": write of ",
                                    batch.size(), " records failed (", r.message,
                                    "); retry ", attempt, " in ", delay, " ms"));
    if (WaitForStop(delay)) return Exit::kStop;
  }
}

std::optional<Runner::Exit> Runner::MaybeCheckpoint(bool force) {
  const ConnectorSettings& s = options_.settings;
  if (saved_ && safe_ <= *saved_) return std::nullopt;
  absl::Duration since = absl::Now() - last_checkpoint_time_;
  bool due = force || (s.autocommit_enabled &&
                       (since_checkpoint_ >= s.autocommit_records_threshold ||
                        since >= absl::Milliseconds(s.autocommit_interval_ms) ||
                        (scanned_progress_ && since >= kScanCheckpointGap)));
  if (!due) return std::nullopt;
  absl::Status st = checkpoints_.Save(safe_, options_.epoch);
  if (absl::IsAborted(st)) {
    Report(RunnerEvent::Kind::kFenced, std::string(st.message()));
    return Exit::kFenced;
  }
  if (!st.ok()) {
    // Not fatal: progress is only delayed. The next save retries.
    options_.node->Log(ESDB_LOG_WARN, absl::StrCat("connector ", options_.connector_id,
                                                   ": checkpoint failed: ", st.message()));
    return std::nullopt;
  }
  saved_ = safe_;
  since_checkpoint_ = 0;
  scanned_progress_ = false;
  last_checkpoint_time_ = absl::Now();
  options_.metrics->checkpoints++;
  options_.metrics->checkpoint_position = safe_.commit;
  return std::nullopt;
}

void Runner::Run() {
  const ConnectorSettings& s = options_.settings;
  // Open the sink; transient failures are retried with backoff until stopped.
  for (int64_t attempt = 1;; ++attempt) {
    auto sink = options_.open_sink();
    if (sink.ok()) {
      sink_ = std::move(*sink);
      break;
    }
    if (!absl::IsUnavailable(sink.status()) || !s.resilience_enabled ||
        (s.max_attempts > 0 && attempt >= s.max_attempts)) {
      Report(RunnerEvent::Kind::kFailed,
             absl::StrCat("cannot open the sink: ", sink.status().message()));
      return;
    }
    if (WaitForStop(backoff_.DelayMs(attempt))) return;
  }

  std::optional<Position> start;
  int64_t conflicts = 0;
  for (int64_t attempt = 1;; ++attempt) {
    auto p = StartPosition();
    absl::Status st = p.ok() ? Subscribe(*p) : p.status();
    if (st.ok()) {
      start = p.ok() ? *p : std::nullopt;
      break;
    }
    // A conflict on the start claim usually means the previous owner wrote its final
    // checkpoint in between: load it and claim again. Only a runner that keeps losing is fenced.
    if (absl::IsAborted(st) && ++conflicts >= kClaimAttempts) {
      Report(RunnerEvent::Kind::kFenced, std::string(st.message()));
      return;
    }
    options_.node->Log(ESDB_LOG_WARN, absl::StrCat("connector ", options_.connector_id,
                                                   ": cannot start: ", st.message()));
    if (WaitForStop(backoff_.DelayMs(attempt))) return;
  }
  safe_ = start.value_or(Position{});
  last_checkpoint_time_ = absl::Now();
  Report(RunnerEvent::Kind::kRunning);

  Exit exit = Exit::kStop;
  std::vector<Record> batch;
  while (true) {
    batch.clear();
    std::optional<Item> marker;
    if (!NextWork(batch, marker)) break;
    if (!batch.empty()) {
      if (auto e = Deliver(batch)) {
        exit = *e;
        break;
      }
      safe_ = batch.back().position;
      since_checkpoint_ += static_cast<int64_t>(batch.size());
    }
    if (marker) {
      if (marker->kind == Item::Kind::kDropped) {
        options_.node->Log(ESDB_LOG_WARN, absl::StrCat("connector ", options_.connector_id, ": ",
                                                       marker->why, "; resubscribing"));
        std::optional<Position> from;
        {
          absl::MutexLock lock(&mu_);
          from = last_enqueued_;
        }
        if (!from) from = start;
        bool stopped = false;
        for (int64_t attempt = 1;; ++attempt) {
          absl::Status st = Subscribe(from);
          if (st.ok()) break;
          if ((stopped = WaitForStop(backoff_.DelayMs(attempt)))) break;
        }
        if (stopped) break;
        continue;
      }
      // Everything before the marker has been acknowledged, and nothing between the last record
      // and the marker matched: progress that is safe to commit (only when autocommit is on).
      safe_ = std::max(safe_, marker->position);
      scanned_progress_ = s.autocommit_enabled;
    }
    if (auto e = MaybeCheckpoint(/*force=*/false)) {
      exit = *e;
      break;
    }
  }

  bool killed;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // unblock the subscription thread before unsubscribing
    killed = killed_;
    cv_.SignalAll();
  }
  subscription_.reset();
  if (killed) return;
  // Flush before the final checkpoint: a sink may acknowledge before its data is durable, and
  // the checkpoint must never pass what a crash could still lose.
  absl::Status flushed = sink_->Flush();
  if (!flushed.ok()) {
    options_.node->Log(ESDB_LOG_WARN,
                       absl::StrCat("connector ", options_.connector_id, ": flush failed (",
                                    flushed.message(),
                                    "); no final checkpoint, the tail is delivered again"));
  } else if (exit != Exit::kFenced) {
    if (MaybeCheckpoint(/*force=*/true) == Exit::kFenced) exit = Exit::kFenced;
  }
  sink_.reset();
  if (exit == Exit::kStop) Report(RunnerEvent::Kind::kStopped);
}

}  // namespace esdb
