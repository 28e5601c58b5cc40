#include "connector/registry.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/json.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

constexpr char kConnectorIndexed[] = "ConnectorIndexed";
// The index, the connector streams and their checkpoints; not $connectors-hosts.
constexpr char kLibraryStreams[] = R"(^\$connectors(/|$))";

bool Gone(const absl::Status& s) { return absl::IsNotFound(s) || absl::IsFailedPrecondition(s); }

EventData IndexEntry(const std::string& id, int64_t generation) {
  nlohmann::json data = {{"id", id}};
  if (generation > 0) data["generation"] = generation;
  EventData e;
  e.event_type = kConnectorIndexed;
  e.content_type = "application/json";
  e.data = data.dump();
  return e;
}

}  // namespace

Registry::~Registry() {
  absl::MutexLock lock(&sync_mu_);
  subscription_.reset();
}

absl::StatusOr<Connector> Registry::CatchUp(const std::string& id) const {
  Connector c;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = connectors_.find(id); it != connectors_.end()) {
      c = it->second;
    } else {
      c.id = id;
      auto g = generations_.find(id);
      c.generation = g == generations_.end() ? 0 : g->second;
    }
  }
  absl::Status s = node_->ReadStream(ConnectorStream(id, c.generation), Direction::kForwards,
                                     static_cast<uint64_t>(c.revision + 1), UINT64_MAX,
                                     [&c](const Record& r) {
                                       Apply(c, r);
                                       return true;
                                     });
  if (Gone(s)) {
    // Read before, unreadable now: deleted behind the library's back.
    if (c.exists && c.revision >= 0) MarkDamaged(c);
    return c;
  }
  if (!s.ok()) return s;
  return c;
}

absl::StatusOr<Connector> Registry::CatchUpAndStore(const std::string& id) {
  auto c = CatchUp(id);
  if (c.ok()) Store(*c);
  return c;
}

absl::StatusOr<Connector> Registry::Refresh(const std::string& id) {
  auto c = CatchUpAndStore(id);
  if (!c.ok() || !c->exists || c->damaged) return c;
  std::optional<Checkpoint> last;
  absl::Status s = node_->ReadStream(CheckpointStream(id, c->generation), Direction::kBackwards,
                                     ESDB_REVISION_END, 1, [&last](const Record& r) {
                                       last = ParseCheckpoint(r);
                                       return false;
                                     });
  if (last) {
    absl::MutexLock lock(&mu_);
    if (connectors_[id].generation == c->generation) checkpoints_[id] = *last;
  } else if (!s.ok() && !absl::IsNotFound(s)) {
    return s;
  }
  return c;
}

bool Registry::ApplyIndexEntry(uint64_t revision, const Record& entry) {
  if (static_cast<int64_t>(revision) <= index_revision_) return true;  // seen already
  if (static_cast<int64_t>(revision) != index_revision_ + 1) return false;
  index_revision_ = static_cast<int64_t>(revision);
  auto j = ParseJson(entry.data, kMaxRequestJsonDepth, "index entry").value_or(nullptr);
  if (entry.event_type != kConnectorIndexed || !j.is_object() || !j.contains("id") ||
      !j["id"].is_string()) {
    return true;
  }
  std::string id = j["id"];
  int64_t generation = 0;
  if (j.contains("generation") && j["generation"].is_number_integer()) generation = j["generation"];
  if (!ValidateConnectorId(id).ok() || generation < 0) return true;  // forged: not ours
  auto known = generations_.find(id);
  if (known != generations_.end() && known->second >= generation) return true;
  generations_[id] = generation;
  auto c = connectors_.find(id);
  if (c == connectors_.end() || c->second.generation < generation) {
    connectors_[id] = Connector{.id = id, .generation = generation};
    checkpoints_.erase(id);
    stale_.insert(id);  // its stream may already hold events
  }
  return true;
}

absl::Status Registry::ReadIndexTail() {
  int64_t after;
  {
    absl::MutexLock lock(&mu_);
    after = index_revision_;
  }
  std::vector<Record> entries;
  absl::Status s = node_->ReadStream(kIndexStream, Direction::kForwards,
                                     static_cast<uint64_t>(after + 1), UINT64_MAX,
                                     [&entries](const Record& r) {
                                       entries.push_back(r);
                                       return true;
                                     });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  absl::MutexLock lock(&mu_);
  for (const Record& r : entries) ApplyIndexEntry(r.revision, r);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Registry::NewGeneration(const std::string& id, int64_t from) {
  // The index's expected revision orders generations: of two hosts moving the same id at once,
  // one appends, the other sees the id moved and reports the conflict.
  for (int attempt = 0; attempt < 5; ++attempt) {
    int64_t expected;
    {
      absl::MutexLock lock(&mu_);
      expected = index_revision_;
      auto g = generations_.find(id);
      if (g != generations_.end() && g->second != from) {
        return absl::AbortedError(absl::StrCat(
            "connector '", id, "' was changed concurrently; read it again and retry"));
      }
    }
    EventData e = IndexEntry(id, from + 1);
    auto r = node_->Append(kIndexStream, expected, std::span<const EventData>(&e, 1));
    if (r.ok()) {
      Record written;
      written.event_type = e.event_type;
      written.data = e.data;
      absl::MutexLock lock(&mu_);
      ApplyIndexEntry(r->revision, written);
      return from + 1;
    }
    if (!absl::IsAborted(r.status())) return r.status();
    if (auto s = ReadIndexTail(); !s.ok()) return s;
  }
  return absl::UnavailableError(absl::StrCat(
      "the connector index keeps changing; could not record connector '", id, "'"));
}

absl::Status Registry::Load() {
  absl::MutexLock sync(&sync_mu_);
  subscription_.reset();
  // Everything after this position is followed; everything up to it is read below.
  auto from = node_->LastPosition();
  if (!from.ok()) return from.status();
  {
    absl::MutexLock lock(&mu_);
    connectors_.clear();
    checkpoints_.clear();
    generations_.clear();
    stale_.clear();
    index_revision_ = -1;
    index_stale_ = dropped_ = following_ = false;
  }
  if (auto s = ReadIndexTail(); !s.ok()) return s;
  std::set<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    ids.swap(stale_);
  }
  for (const std::string& id : ids) {
    auto c = Refresh(id);
    if (!c.ok()) return c.status();
  }
  Position p = *from;
  return Follow(p.commit == 0 && p.prepare == 0 ? std::nullopt : std::optional<Position>(p));
}

absl::Status Registry::Follow(std::optional<Position> after) {
  subscription_.reset();
  SubscribeOptions o;
  o.from = after ? SubscribeOptions::From::kPosition : SubscribeOptions::From::kStart;
  if (after) o.position = *after;
  o.filter.scope = FilterScope::kStream;
  o.filter.enabled = true;
  o.filter.regex = kLibraryStreams;
  {
    absl::MutexLock lock(&mu_);
    following_ = true;
    dropped_ = false;
    followed_to_ = after;
  }
  auto sub = node_->SubscribeAll(o, this);
  if (!sub.ok()) {
    absl::MutexLock lock(&mu_);
    dropped_ = true;
    return sub.status();
  }
  subscription_ = std::move(*sub);
  return absl::OkStatus();
}

void Registry::OnEvents(std::vector<Record> events) {
  std::vector<std::string> changed;
  bool needs_sync = false;
  {
    absl::MutexLock lock(&mu_);
    for (const Record& r : events) {
      followed_to_ = r.position;
      if (r.stream == kIndexStream) {
        size_t before = stale_.size();
        if (!ApplyIndexEntry(r.revision, r)) index_stale_ = true;
        needs_sync |= index_stale_ || stale_.size() != before;
        continue;
      }
      auto name = ParseConnectorStream(r.stream);
      if (!name) continue;
      auto g = generations_.find(name->id);
      if (g == generations_.end() || g->second < name->generation) {
        index_stale_ = needs_sync = true;  // its index entry has not been seen yet
        continue;
      }
      if (g->second != name->generation) continue;  // an old generation
      if (name->checkpoints) {
        if (auto cp = ParseCheckpoint(r)) checkpoints_[name->id] = *cp;
        continue;
      }
      Connector& c = connectors_[name->id];
      if (static_cast<int64_t>(r.revision) == c.revision + 1 && !c.damaged) {
        Apply(c, r);
        changed.push_back(name->id);
      } else if (static_cast<int64_t>(r.revision) > c.revision) {
        stale_.insert(name->id);  // a gap: read the stream
        needs_sync = true;
      }
    }
  }
  if (needs_sync) changed.emplace_back();
  Notify(changed);
}

void Registry::OnDropped(absl::Status why) {
  node_->Log(ESDB_LOG_WARN, absl::StrCat("connector registry: stopped following the connector "
                                         "streams (", why.message(), "); following again"));
  {
    absl::MutexLock lock(&mu_);
    dropped_ = true;
  }
  Notify({""});
}

absl::Status Registry::Sync() {
  absl::MutexLock sync(&sync_mu_);
  bool following, dropped, index_stale;
  std::optional<Position> resume;
  {
    absl::MutexLock lock(&mu_);
    following = following_;
    dropped = dropped_;
    index_stale = index_stale_ || !following_;
    index_stale_ = false;
    resume = followed_to_;
  }
  if (dropped) {
    if (auto s = Follow(resume); !s.ok()) return s;
  }
  if (index_stale) {
    if (auto s = ReadIndexTail(); !s.ok()) {
      absl::MutexLock lock(&mu_);
      index_stale_ = true;
      return s;
    }
  }
  std::set<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    ids.swap(stale_);
    if (!following) {
      for (const auto& [id, unused] : connectors_) ids.insert(id);
    }
  }
  for (const std::string& id : ids) {
    if (auto c = CatchUpAndStore(id); !c.ok()) {
      absl::MutexLock lock(&mu_);
      stale_.insert(ids.begin(), ids.end());
      return c.status();
    }
  }
  return absl::OkStatus();
}

void Registry::Store(const Connector& c) {
  {
    absl::MutexLock lock(&mu_);
    auto it = connectors_.find(c.id);
    if (it != connectors_.end()) {
      const Connector& known = it->second;
      // Never go back in time: a slower reader may hold an older fold.
      if (known.generation > c.generation) return;
      if (known.generation == c.generation &&
          (known.revision > c.revision ||
           (known.revision == c.revision && known.damaged == c.damaged))) {
        return;
      }
    }
    connectors_[c.id] = c;
  }
  Notify({c.id});
}

void Registry::OnChange(std::function<void(const std::string&)> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void Registry::Notify(const std::vector<std::string>& ids) const {
  absl::MutexLock lock(&listener_mu_);
  if (!listener_) return;
  for (const std::string& id : ids) listener_(id);
}

absl::StatusOr<Connector> Registry::Execute(const std::string& id, const Command& command) {
  const bool create = std::holds_alternative<cmd::Create>(command);
  // Decide on what the store says now, not on this host's cache: another host may have changed
  // the connector since. A conflict then only means a truly concurrent command.
  if (auto s = ReadIndexTail(); !s.ok()) return s;
  auto fresh = CatchUp(id);
  if (!fresh.ok()) return fresh.status();
  Connector current = std::move(*fresh);
  if (current.damaged) {
    Store(current);
    if (!std::holds_alternative<cmd::Delete>(command)) {
      return absl::FailedPreconditionError(current.error);
    }
    // Its stream cannot take a ConnectorDeleted: the id moves on to a new, empty generation.
    auto g = NewGeneration(id, current.generation);
    if (!g.ok()) return g.status();
    Connector deleted{.id = id, .generation = *g};
    Store(deleted);
    return deleted;
  }
  auto events = Decide(current, command);
  if (!events.ok()) return events.status();
  if (events->empty()) return current;
  bool moved = false;
  if (create) {
    bool indexed;
    {
      absl::MutexLock lock(&mu_);
      indexed = generations_.contains(id);
    }
    if (!indexed) {
      // The index entry goes first: a crash between the two appends leaves an id without a
      // stream, which Load() skips, never a connector that start-up cannot find.
      EventData e = IndexEntry(id, 0);
      auto r = node_->Append(kIndexStream, ESDB_EXPECT_ANY, std::span<const EventData>(&e, 1));
      if (!r.ok()) return r.status();
    } else if (current.revision >= 0) {
      // Created before: start afresh in new streams rather than after the old events.
      auto g = NewGeneration(id, current.generation);
      if (!g.ok()) return g.status();
      current = Connector{.id = id, .generation = *g};
      moved = true;
    }
  }
  if (auto hook = before_append_) hook();  // a copy: the hook may replace itself
  auto stream = [&] { return ConnectorStream(id, current.generation); };
  auto appended = node_->Append(stream(), current.revision, *events);
  if (create && !moved && absl::IsFailedPrecondition(appended.status())) {
    // The stream was tombstoned behind the library's back: create in the next generation.
    auto g = NewGeneration(id, current.generation);
    if (!g.ok()) return g.status();
    current = Connector{.id = id, .generation = *g};
    appended = node_->Append(stream(), current.revision, *events);
  }
  if (!appended.ok()) {
    if (absl::IsAborted(appended.status())) {
      (void)CatchUpAndStore(id);
      return absl::AbortedError(absl::StrCat(
          "connector '", id, "' was changed concurrently; read it again and retry"));
    }
    if (absl::IsFailedPrecondition(appended.status())) {
      MarkDamaged(current);
      Store(current);
      return absl::FailedPreconditionError(current.error);
    }
    return appended.status();
  }
  // Read back what we wrote, so times and revisions are the node's, exactly as after a restart.
  if (auto back = CatchUpAndStore(id); back.ok() && back->revision >= appended->revision) {
    return back;
  }
  // The append stands even if the read-back failed: fold the events as written.
  const int64_t now = absl::ToUnixMicros(absl::Now());
  int64_t revision = static_cast<int64_t>(appended->revision) -
                     static_cast<int64_t>(events->size()) + 1;
  for (const EventData& e : *events) {
    Record r;
    r.stream = stream();
    r.revision = static_cast<uint64_t>(revision++);
    r.event_type = e.event_type;
    r.data = e.data;
    r.created_unix_us = now;
    Apply(current, r);
  }
  Store(current);
  return current;
}

std::optional<Connector> Registry::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = connectors_.find(id);
  if (it == connectors_.end() || !it->second.exists) return std::nullopt;
  return it->second;
}

std::vector<Connector> Registry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<Connector> out;
  for (const auto& [id, c] : connectors_) {
    if (c.exists) out.push_back(c);
  }
  return out;
}

std::vector<Connector> Registry::ListAll() const {
  absl::MutexLock lock(&mu_);
  std::vector<Connector> out;
  out.reserve(connectors_.size());
  for (const auto& [id, c] : connectors_) out.push_back(c);
  return out;
}

std::optional<Checkpoint> Registry::LastCheckpoint(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = checkpoints_.find(id);
  if (it == checkpoints_.end()) return std::nullopt;
  return it->second;
}

}  // namespace esdb
