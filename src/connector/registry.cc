#include "connector/registry.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {
constexpr char kConnectorIndexed[] = "ConnectorIndexed";
}  // namespace

absl::StatusOr<Connector> Registry::ReadConnector(const std::string& id) const {
  Connector c;
  c.id = id;
  absl::Status s = node_->ReadStream(ConnectorStream(id), Direction::kForwards, 0, UINT64_MAX,
                                     [&](const Record& r) {
                                       Apply(c, r);
                                       return true;
                                     });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  return c;
}

absl::Status Registry::ReadIndex(int64_t after, std::map<std::string, bool>& ids,
                                 int64_t& last) const {
  absl::Status s = node_->ReadStream(
      kIndexStream, Direction::kForwards, static_cast<uint64_t>(after + 1), UINT64_MAX,
      [&](const Record& r) {
        last = static_cast<int64_t>(r.revision);
        auto j = ParseJson(r.data, kMaxRequestJsonDepth, "index entry").value_or(nullptr);
        if (r.event_type == kConnectorIndexed && j.is_object() && j.contains("id") &&
            j["id"].is_string()) {
          ids[j["id"].get<std::string>()] = true;
        }
        return true;
      });
  return s.ok() || absl::IsNotFound(s) ? absl::OkStatus() : s;
}

absl::Status Registry::Load() {
  std::map<std::string, bool> ids;
  int64_t last = -1;
  if (auto s = ReadIndex(-1, ids, last); !s.ok()) return s;
  std::map<std::string, Connector> loaded;
  for (const auto& [id, unused] : ids) {
    auto c = ReadConnector(id);
    if (!c.ok()) return c.status();
    loaded[id] = std::move(*c);
  }
  absl::MutexLock lock(&mu_);
  connectors_ = std::move(loaded);
  indexed_ = std::move(ids);
  index_revision_ = last;
  return absl::OkStatus();
}

absl::Status Registry::Sync() {
  std::map<std::string, bool> fresh;
  int64_t after, last;
  std::map<std::string, Connector> known;
  {
    absl::MutexLock lock(&mu_);
    after = last = index_revision_;
    known = connectors_;
  }
  if (auto s = ReadIndex(after, fresh, last); !s.ok()) return s;
  for (const auto& [id, unused] : fresh) {
    if (!known.contains(id)) known[id] = Connector{.id = id};
  }
  for (auto& entry : known) {
    // A named reference, not a structured binding: clang before 16 cannot capture the latter.
    Connector& c = entry.second;
    const std::string& id = entry.first;
    int64_t before = c.revision;
    absl::Status s = node_->ReadStream(ConnectorStream(id), Direction::kForwards,
                                       static_cast<uint64_t>(c.revision + 1), UINT64_MAX,
                                       [&c](const Record& r) {
                                         Apply(c, r);
                                         return true;
                                       });
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    if (c.revision != before) Store(c);
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [id, unused] : fresh) indexed_[id] = true;
  index_revision_ = std::max(index_revision_, last);
  return absl::OkStatus();
}

absl::StatusOr<Connector> Registry::Refresh(const std::string& id) {
  auto c = ReadConnector(id);
  if (!c.ok()) return c.status();
  Store(*c);
  return c;
}

void Registry::Store(const Connector& c) {
  {
    absl::MutexLock lock(&mu_);
    auto it = connectors_.find(c.id);
    // Never go back in time: a slower reader may hold an older fold.
    if (it != connectors_.end() && it->second.revision > c.revision) return;
    connectors_[c.id] = c;
  }
  if (listener_) listener_(c.id);
}

absl::Status Registry::EnsureIndexed(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    if (indexed_.contains(id)) return absl::OkStatus();
  }
  // The index entry goes first: a crash between the two appends leaves an id without a stream,
  // which Load() skips, never a connector that start-up cannot find.
  EventData e;
  e.event_type = kConnectorIndexed;
  e.data = nlohmann::json{{"id", id}}.dump();
  auto r = node_->Append(kIndexStream, ESDB_EXPECT_ANY, std::span<const EventData>(&e, 1));
  if (!r.ok()) return r.status();
  absl::MutexLock lock(&mu_);
  indexed_[id] = true;
  return absl::OkStatus();
}

absl::StatusOr<Connector> Registry::Execute(const std::string& id, const Command& command) {
  // Decide on what the store says now, not on this host's cache: another host may have changed
  // the connector since. A conflict then only means a truly concurrent command.
  auto fresh = ReadConnector(id);
  if (!fresh.ok()) return fresh.status();
  Connector current = std::move(*fresh);
  auto events = Decide(current, command);
  if (!events.ok()) return events.status();
  if (events->empty()) return current;
  if (std::holds_alternative<cmd::Create>(command)) {
    if (auto s = EnsureIndexed(id); !s.ok()) return s;
  }
  if (auto hook = before_append_) hook();  // a copy: the hook may replace itself
  auto appended = node_->Append(ConnectorStream(id), current.revision, *events);
  if (!appended.ok()) {
    if (absl::IsAborted(appended.status())) {
      (void)Refresh(id);
      return absl::AbortedError(absl::StrCat(
          "connector '", id, "' was changed concurrently; read it again and retry"));
    }
    return appended.status();
  }
  // Read back what we wrote, so times and revisions are the node's, exactly as after a restart.
  return Refresh(id);
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

}  // namespace esdb
