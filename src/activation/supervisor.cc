#include "activation/supervisor.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "secrets/sealed_settings.h"

namespace esdb {
namespace {
// How often the supervisor looks again even without a poke: picks up changes made by other
// hosts and retries lifecycle writes that hit a conflict.
constexpr absl::Duration kResyncEvery = absl::Seconds(1);
}  // namespace

Supervisor::Supervisor(SupervisorOptions options)
    : options_(std::move(options)),
      own_pools_(options_.pools != nullptr ? nullptr : std::make_unique<DeliveryPools>()),
      pools_(options_.pools != nullptr ? options_.pools : own_pools_.get()),
      leases_(options_.node, options_.host_id, options_.member_id, options_.lease),
      heartbeat_(&leases_, [node = options_.node](const absl::Status& st) {
        node->Log(ESDB_LOG_WARN, absl::StrCat("heartbeat failed: ", st.message()));
      }) {}

Supervisor::~Supervisor() { Stop(); }

void Supervisor::Start() {
  heartbeat_.Start();
  auto watch = options_.node->WatchMembers([this] { Poke(); });
  if (watch.ok()) membership_watch_ = std::move(*watch);
  thread_ = std::thread([this] { Loop(); });
}

void Supervisor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  // Last: the lease is kept while the runners stop.
  heartbeat_.Stop();
  membership_watch_.reset();
}

void Supervisor::Poke() {
  absl::MutexLock lock(&mu_);
  poked_ = true;
  cv_.SignalAll();
}

std::map<std::string, std::shared_ptr<ConnectorMetrics>> Supervisor::Metrics() const {
  absl::MutexLock lock(&mu_);
  return metrics_;
}

std::shared_ptr<const ConnectorMetrics> Supervisor::RunningMetrics(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto running = running_here_.find(id);
  if (running == running_here_.end() || !running->second) return nullptr;
  auto m = metrics_.find(id);
  return m == metrics_.end() ? nullptr : m->second;
}

bool Supervisor::IsRunningHere(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = running_here_.find(id);
  return it != running_here_.end() && it->second;
}

std::shared_ptr<ConnectorMetrics> Supervisor::MetricsFor(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto& m = metrics_[id];
  if (!m) m = std::make_shared<ConnectorMetrics>();
  return m;
}

void Supervisor::Loop() {
  while (true) {
    std::deque<RunnerReport> events;
    {
      absl::MutexLock lock(&mu_);
      // Wake at the stop deadline of a stopping runner too, to give it up in time.
      absl::Time deadline =
          std::min({absl::Now() + kResyncEvery, NextStopDeadline(), next_restart_});
      while (!stopping_ && !poked_ && events_.empty() && absl::Now() < deadline) {
        cv_.WaitWithDeadline(&mu_, deadline);
      }
      if (stopping_) break;
      events.swap(events_);
      poked_ = false;
    }
    for (const RunnerReport& r : events) HandleRunnerEvent(r);
    ReapStopped();
    if (auto st = options_.registry->Sync(); !st.ok()) {
      options_.node->Log(ESDB_LOG_WARN, absl::StrCat("cannot read connector changes: ", st.message()));
    }
    RefreshHosts();
    Reconcile();
  }
  // Clean stop: every runner is asked at once and writes its final checkpoint; then they are
  // waited for together, so the whole stop takes as long as the slowest runner (at most
  // stop_timeout). The connectors stay RUNNING in their streams, so they resume when the host
  // starts again.
  absl::Time deadline = absl::Now() + options_.stop_timeout;
  for (auto& [id, a] : active_) a.runner->RequestStop();
  for (auto& [id, a] : active_) a.runner->AwaitEnd(deadline);
  active_.clear();  // a runner that has not ended by now is given up
}

absl::Time Supervisor::NextStopDeadline() const {
  absl::Time t = absl::InfiniteFuture();
  for (const auto& [id, a] : active_) {
    if (a.stopping) t = std::min(t, a.stop_deadline);
  }
  return t;
}

bool Supervisor::Record(const std::string& id, const Command& command) {
  auto r = options_.registry->Execute(id, command);
  if (!r.ok() && !absl::IsFailedPrecondition(r.status()) && !absl::IsNotFound(r.status())) {
    options_.node->Log(ESDB_LOG_WARN, absl::StrCat("connector ", id, ": ", r.status().message()));
    Poke();  // decide again on fresh state
  }
  return r.ok();
}

void Supervisor::HandleRunnerEvent(const RunnerReport& report) {
  const std::string& id = report.id;
  const RunnerEvent& e = report.event;
  auto active = active_.find(id);
  if (active == active_.end() || active->second.serial != report.serial) {
    // From a runner already reaped (possibly replaced): what it says is no longer news.
    if (e.kind == RunnerEvent::Kind::kFailed) {
      options_.node->Log(ESDB_LOG_WARN,
                         absl::StrCat("connector ", id, ": a stopped runner failed: ", e.message));
    }
    return;
  }
  switch (e.kind) {
    case RunnerEvent::Kind::kRunning:
      // Recorded now; Reconcile() records it again if this append lost a conflict.
      if (!active->second.stopping) {
        active->second.delivering = true;
        Record(id, cmd::MarkRunning{options_.host_id});
      }
      break;
    case RunnerEvent::Kind::kHealthy:
      // Delivering again after a failure: the reason and the restart backoff clear.
      if (auto c = options_.registry->Get(id);
          c && !active->second.stopping && (!c->error.empty() || c->restart_attempts > 0)) {
        Record(id, cmd::MarkRecovered{options_.host_id});
      }
      break;
    case RunnerEvent::Kind::kFailed:
      options_.node->Log(ESDB_LOG_ERROR, absl::StrCat("connector ", id, " failed: ", e.message));
      StopRunner(id);
      RecordFailure(id, e.message, e.permanent);
      break;
    case RunnerEvent::Kind::kFenced: {
      options_.node->Log(ESDB_LOG_WARN, absl::StrCat("connector ", id, ": ", e.message));
      bool was_delivering = active->second.delivering;
      StopRunner(id);
      (void)options_.registry->Refresh(id);
      // Another host took it over while this one delivered. Leave it alone for a lease even if
      // this host's view still says it is ours: views converge within a lease, and restarting
      // now would fence the other host back, over and over.
      if (was_delivering) fenced_until_[id] = absl::Now() + options_.lease;
      break;
    }
    case RunnerEvent::Kind::kStopped:
      break;
  }
}

void Supervisor::RecordFailure(const std::string& id, const std::string& error, bool permanent) {
  cmd::MarkFailed failed{options_.host_id, error, permanent};
  auto c = options_.registry->Get(id);
  auto settings = c ? ParseSettings(c->settings) : absl::StatusOr<ConnectorSettings>();
  if (!permanent && settings.ok() && settings->restart_policy == RestartPolicy::kOnFailure) {
    // The time goes into the stream, so whichever host owns the connector then restarts it then.
    Backoff backoff(kFirstRestartDelayMs, settings->restart_max_delay_ms, 2.0);
    int64_t delay_ms = backoff.DelayMs(c->restart_attempts + 1);
    failed.restart_at_us = absl::ToUnixMicros(absl::Now() + absl::Milliseconds(delay_ms));
    options_.node->Log(ESDB_LOG_INFO,
                       absl::StrCat("connector ", id, ": restart ", c->restart_attempts + 1, " in ",
                                    delay_ms, " ms"));
  }
  Record(id, failed);
}

absl::Time Supervisor::RestartDue(const std::map<std::string, Connector>& wanted,
                                  const std::function<bool(const std::string&)>& mine) {
  absl::Time next = absl::InfiniteFuture();
  const absl::Time now = absl::Now();
  for (const auto& [id, c] : wanted) {
    if (!c.exists || c.state != ConnectorState::kFailed || c.failure_permanent ||
        c.restart_at_us == 0 || !mine(id) || active_.contains(id)) {
      continue;
    }
    // A policy changed to `never` since the failure cancels what was scheduled.
    auto settings = ParseSettings(c.settings);
    if (!settings.ok() || settings->restart_policy != RestartPolicy::kOnFailure) continue;
    absl::Time at = absl::FromUnixMicros(c.restart_at_us);
    if (now < at) {
      next = std::min(next, at);
      continue;
    }
    options_.node->Log(ESDB_LOG_INFO, absl::StrCat("connector ", id, ": restarting (attempt ",
                                                   c.restart_attempts, ") after: ", c.error));
    Record(id, cmd::Restart{options_.host_id});  // the runner starts on the next pass
  }
  return next;
}

void Supervisor::StopRunner(const std::string& id) {
  auto it = active_.find(id);
  if (it == active_.end() || it->second.stopping) return;
  options_.node->Log(ESDB_LOG_INFO, absl::StrCat("connector ", id, ": stopping its runner"));
  it->second.runner->RequestStop();
  it->second.stopping = true;
  it->second.stop_deadline = absl::Now() + options_.stop_timeout;
}

void Supervisor::ReapStopped() {
  absl::Time now = absl::Now();
  for (auto it = active_.begin(); it != active_.end();) {
    Active& a = it->second;
    // A runner that has ended is destroyed at once; one past its deadline is given up (Stop()
    // then returns at once, leaving its hung sink call behind).
    if (!a.stopping || (!a.runner->AwaitEnd(absl::InfinitePast()) && now < a.stop_deadline)) {
      ++it;
      continue;
    }
    std::string id = it->first;
    a.runner->Stop();
    it = active_.erase(it);
    absl::MutexLock lock(&mu_);
    running_here_[id] = false;
  }
}

void Supervisor::StartRunner(const Connector& c) {
  if (c.start_attempts >= kMaxStartAttempts) {
    std::string why = absl::StrCat(
        "started ", c.start_attempts,
        " times in a row without reaching RUNNING: its host stopped or crashed while starting it "
        "each time, so it is not started again; check the host's log, then enable it again");
    options_.node->Log(ESDB_LOG_ERROR, absl::StrCat("connector ", c.id, " failed: ", why));
    Record(c.id, cmd::MarkFailed{options_.host_id, why, /*permanent=*/true});
    return;
  }
  // Recorded before anything of it runs, so that a start which takes the host down still counts.
  if (!Record(c.id, cmd::MarkStarting{options_.host_id})) return;  // tried again next pass
  auto plain = secrets::OpenSettings(c.id, c.settings, c.secrets, *options_.keys);
  // What this host cannot run, a restart does not cure: an operator has to act.
  auto refuse = [&](std::string why) {
    Record(c.id, cmd::MarkFailed{options_.host_id, std::move(why), /*permanent=*/true});
  };
  if (!plain.ok()) return refuse(std::string(plain.status().message()));
  auto settings = ParseSettings(*plain);
  if (!settings.ok()) {
    return refuse(absl::StrCat("invalid settings: ", settings.status().message()));
  }
  auto plugin = options_.plugins->Find(settings->instance_type);
  if (!plugin.ok()) return refuse(std::string(plugin.status().message()));
  // Again at each start: the policy, or what a path resolves to, may have changed since create.
  if (auto s = options_.destinations->Apply(**plugin, settings->sink_settings); !s.ok()) {
    return refuse(std::string(s.message()));
  }
  // Again at each start: the plugin may have been replaced by a build without pipelined writes.
  if (auto s = CheckMaxInFlight(**plugin, settings->max_in_flight); !s.ok()) {
    return refuse(std::string(s.message()));
  }
  RunnerOptions o;
  o.connector_id = c.id;
  o.generation = c.generation;
  o.host_id = options_.host_id;
  o.settings = *settings;
  o.epoch = c.epoch;
  o.epoch_position = c.epoch_position;
  o.node = options_.node;
  o.scan_checkpoint_interval = options_.scan_checkpoint_interval;
  o.metrics = MetricsFor(c.id);
  o.pools = pools_;
  o.stop_timeout = options_.stop_timeout;
  o.dead_letter_stream = ResolveDeadLetterStream(settings->dead_letter_stream, c.id, c.generation);
  o.replay_request = c.replay_revision;
  o.replay_until_us = c.replay_us;
  const SettingsMap& sink_settings = settings->sink_settings;
  const SinkContext context{.connector_id = c.id,
                            .generation = c.generation,
                            .epoch = c.epoch,
                            .max_batch_records = settings->batch_size,
                            .max_batch_bytes = settings->batch_max_bytes,
                            .max_in_flight = settings->max_in_flight};
  const SinkPlugin* p = *plugin;
  const NodeClient* node = options_.node;
  std::string id = c.id;
  const absl::Duration write_timeout = absl::Milliseconds(settings->write_timeout_ms);
  o.open_sink = [p, node, id, context, sink_settings, write_timeout]() {
    return p->Open(
        context, sink_settings,
        [node, id](esdb_sink_log_level level, const std::string& m) {
          node->Log(level, absl::StrCat("connector ", id, ": ", m));
        },
        write_timeout);
  };
  uint64_t serial = ++next_serial_;
  o.on_event = [this, id, serial](const RunnerEvent& e) {
    absl::MutexLock lock(&mu_);
    events_.push_back(RunnerReport{id, serial, e});
    cv_.SignalAll();
  };
  o.on_ended = [this] { Poke(); };
  options_.node->Log(ESDB_LOG_INFO, absl::StrCat("connector ", c.id, ": starting on host ",
                                                 options_.host_id));
  // Start() returns at once: the sink is opened on the runner's task, so a slow open holds up
  // neither this thread nor the other starts.
  Active a{std::make_unique<Runner>(std::move(o)),
           c.generation,
           c.settings_revision,
           c.epoch,
           c.restart_revision,
           serial};
  a.runner->Start();
  active_[c.id] = std::move(a);
  absl::MutexLock lock(&mu_);
  running_here_[c.id] = true;
}

void Supervisor::RefreshHosts() {
  absl::Time now = absl::Now();
  auto leases = leases_.Observe(now);
  auto members = options_.node->GetMembers();
  if (!leases.ok() || !members.ok()) return;  // keep the last view
  std::map<std::string, const Member*> by_id;
  for (const Member& m : members->members) by_id[m.id] = &m;
  auto role_of = [&](const std::string& member) {
    auto it = by_id.find(member);
    return it != by_id.end() && it->second->alive ? it->second->role : ESDB_ROLE_OTHER;
  };
  std::vector<HostView> hosts;
  bool self_seen = false;
  for (const HostLease& l : *leases) {
    hosts.push_back({l.host_id, role_of(l.member_id), l.live});
    self_seen |= l.host_id == options_.host_id;
  }
  if (!self_seen) hosts.push_back({options_.host_id, role_of(options_.member_id), true});
  hosts_ = std::move(hosts);
}

void Supervisor::Reconcile() {
  std::map<std::string, Connector> wanted;
  std::map<std::string, std::optional<std::string>> owner;
  for (Connector& c : options_.registry->List()) {
    auto settings = ParseSettings(c.settings);
    Affinity affinity = settings.ok() ? settings->affinity : Affinity::kLeader;
    owner[c.id] = AssignHost(c.id, affinity, hosts_);
    wanted[c.id] = std::move(c);
  }
  auto mine = [&](const std::string& id) { return owner[id] == options_.host_id; };
  // Stop what must not run here any more, or must restart with new settings or a new epoch.
  // A runner still stopping stays in active_, so nothing new starts for its connector (and no
  // STOPPED is recorded) before its final checkpoint is written.
  for (auto& [id, a] : active_) {
    auto w = wanted.find(id);
    bool keep = w != wanted.end() && w->second.IsActive() && mine(id) &&
                w->second.generation == a.generation &&
                w->second.settings_revision == a.settings_revision && w->second.epoch == a.epoch &&
                w->second.restart_revision == a.restart_revision;
    if (!keep) StopRunner(id);
  }
  next_restart_ = RestartDue(wanted, mine);
  for (const auto& [id, c] : wanted) {
    auto fenced = fenced_until_.find(id);
    bool cooling = fenced != fenced_until_.end() && absl::Now() < fenced->second;
    if (c.IsActive() && mine(id) && !active_.contains(id) && !cooling) StartRunner(c);
    auto a = active_.find(id);
    if (a != active_.end() && a->second.delivering && !a->second.stopping &&
        (c.state != ConnectorState::kRunning || c.host != options_.host_id)) {
      Record(id, cmd::MarkRunning{options_.host_id});
    }
    // Nothing runs it here; its owner (or anyone, when nobody is eligible) records the stop.
    if (c.state == ConnectorState::kDeactivating && !active_.contains(id) &&
        (mine(id) || !owner[id].has_value())) {
      Record(id, cmd::MarkStopped{});
    }
  }
}

}  // namespace esdb
