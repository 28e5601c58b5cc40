#include "delivery/dead_letters.h"

#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "connector/connector.h"
#include "core/json.h"
#include "core/text.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

using nlohmann::json;

// FNV-1a over `text` from `basis`, then SplitMix64's finaliser: stable across builds and
// platforms, unlike std::hash or absl::Hash.
uint64_t StableHash(const std::string& text, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

int64_t IntOr(const json& j, const char* key, int64_t fallback) {
  return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : fallback;
}

std::string StringOr(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

std::string ResolveDeadLetterStream(const std::string& setting, const std::string& connector_id,
                                    int64_t generation) {
  return setting.empty() ? DeadLetterStream(connector_id, generation) : setting;
}

std::string DeadLetterEventId(const std::string& connector_id, int64_t generation, int64_t epoch,
                              Position position) {
  // Lengths first, so that no two tuples give one text.
  const std::string key = absl::StrCat(connector_id.size(), ":", connector_id, "|", generation, "|",
                                       epoch, "|", position.commit, "|", position.prepare);
  uint64_t hi = StableHash(key, 0xcbf29ce484222325ULL);
  uint64_t lo = StableHash(key, 0x84222325cbf29ce4ULL);
  hi = (hi & ~0xf000ULL) | 0x8000ULL;                         // version 8: custom, name-based
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 9562 variant
  char text[37];
  std::snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

EventData MakeDeadLetter(const Record& record, const DeadLetterContext& context) {
  EventData e;
  e.event_id =
      DeadLetterEventId(context.connector_id, context.generation, context.epoch, record.position);
  e.event_type = record.event_type;
  e.content_type = record.content_type;
  e.data = record.data;
  json dead = {
      {"connectorId", context.connector_id},
      {"generation", context.generation},
      {"epoch", context.epoch},
      {"host", context.host},
      {"stream", record.stream},
      {"revision", record.revision},
      {"position", {{"commit", record.position.commit}, {"prepare", record.position.prepare}}},
      {"eventId", record.event_id},
      {"created", record.created_unix_us},
      {"error", context.error},
      {"attempts", context.attempts},
      {"at", context.at_us}};
  json metadata = {{"deadLetter", std::move(dead)}};
  if (IsUtf8(record.metadata)) {
    metadata["metadata"] = record.metadata;
  } else {
    metadata["metadataBase64"] = absl::Base64Escape(record.metadata);
  }
  e.metadata = DumpJson(metadata);
  return e;
}

std::optional<DeadLetter> ParseDeadLetter(const Record& event) {
  if (event.event_type == kDeadLetterReplayedEvent) return std::nullopt;
  auto meta = ParseJson(event.metadata, kMaxRequestJsonDepth, "dead letter");
  if (!meta.ok() || !meta->is_object() || !meta->contains("deadLetter") ||
      !(*meta)["deadLetter"].is_object()) {
    return std::nullopt;
  }
  const json& d = (*meta)["deadLetter"];
  DeadLetter out;
  out.revision = event.revision;
  out.stored_us = event.created_unix_us;
  out.context.connector_id = StringOr(d, "connectorId");
  if (out.context.connector_id.empty()) return std::nullopt;
  out.context.generation = IntOr(d, "generation", 0);
  out.context.epoch = IntOr(d, "epoch", -1);
  out.context.host = StringOr(d, "host");
  out.context.error = StringOr(d, "error");
  out.context.attempts = IntOr(d, "attempts", 0);
  out.context.at_us = IntOr(d, "at", event.created_unix_us);
  Record& r = out.record;
  r.stream = StringOr(d, "stream");
  r.revision = static_cast<uint64_t>(IntOr(d, "revision", 0));
  if (d.contains("position") && d["position"].is_object()) {
    r.position.commit = static_cast<uint64_t>(IntOr(d["position"], "commit", 0));
    r.position.prepare = static_cast<uint64_t>(IntOr(d["position"], "prepare", 0));
  }
  r.event_id = StringOr(d, "eventId");
  r.created_unix_us = IntOr(d, "created", 0);
  r.event_type = event.event_type;
  r.content_type = event.content_type;
  r.data = event.data;
  if (meta->contains("metadata") && (*meta)["metadata"].is_string()) {
    r.metadata = (*meta)["metadata"].get<std::string>();
  } else if (std::string b64 = StringOr(*meta, "metadataBase64"); !b64.empty()) {
    absl::Base64Unescape(b64, &r.metadata);
  }
  return out;
}

EventData MakeReplayOutcome(const ReplayOutcome& o, const std::string& host) {
  EventData e;
  e.event_type = kDeadLetterReplayedEvent;
  json data = {{"connectorId", o.connector_id}, {"generation", o.generation},
               {"request", o.request},          {"revision", o.revision},
               {"delivered", o.delivered},      {"host", host}};
  if (!o.delivered) data["error"] = o.error;
  e.data = DumpJson(data);
  return e;
}

std::optional<ReplayOutcome> ParseReplayOutcome(const Record& event) {
  if (event.event_type != kDeadLetterReplayedEvent) return std::nullopt;
  auto j = ParseJson(event.data, kMaxRequestJsonDepth, "replay outcome");
  if (!j.ok() || !j->is_object() || !j->contains("revision") ||
      !(*j)["revision"].is_number_unsigned()) {
    return std::nullopt;
  }
  ReplayOutcome o;
  o.connector_id = StringOr(*j, "connectorId");
  o.generation = IntOr(*j, "generation", 0);
  o.request = IntOr(*j, "request", -1);
  o.revision = (*j)["revision"].get<uint64_t>();
  o.delivered = j->contains("delivered") && (*j)["delivered"] == true;
  o.error = StringOr(*j, "error");
  return o;
}

absl::StatusOr<DeadLetterLedger> ReadDeadLetters(const NodeClient& node, const std::string& stream,
                                                 const std::string& connector_id,
                                                 int64_t generation, int64_t request) {
  DeadLetterLedger ledger;
  std::vector<DeadLetter> all;
  std::set<uint64_t> delivered;
  constexpr uint64_t kPage = 1024;
  uint64_t from = 0;
  while (true) {
    uint64_t seen = 0;
    absl::Status s =
        node.ReadStream(stream, Direction::kForwards, from, kPage, [&](const Record& r) {
          ++seen;
          from = r.revision + 1;
          if (auto o = ParseReplayOutcome(r)) {
            if (o->connector_id != connector_id || o->generation != generation) {
              return true;
            }
            if (o->delivered) delivered.insert(o->revision);
            if (o->request == request) ledger.tried.insert(o->revision);
          } else if (auto d = ParseDeadLetter(r)) {
            if (d->context.connector_id == connector_id && d->context.generation == generation) {
              all.push_back(*std::move(d));
            }
          }
          return true;
        });
    if (absl::IsNotFound(s)) break;
    if (!s.ok()) return s;
    if (seen < kPage) break;
  }
  ledger.total = static_cast<int64_t>(all.size());
  for (DeadLetter& d : all) {
    if (delivered.contains(d.revision)) {
      ++ledger.replayed;
    } else {
      ledger.pending.push_back(std::move(d));
    }
  }
  return ledger;
}

absl::StatusOr<bool> DeadLetterWriter::Append(const EventData& event) const {
  // Another writer between the look and the append makes the append conflict; look again.
  constexpr int kTries = 5;
  absl::Status last;
  for (int i = 0; i < kTries; ++i) {
    int64_t revision = ESDB_EXPECT_NO_STREAM;
    bool found = false;
    absl::Status s = node_->ReadStream(stream_, Direction::kBackwards, ESDB_REVISION_END, kWindow,
                                       [&](const Record& r) {
                                         if (revision == ESDB_EXPECT_NO_STREAM) {
                                           revision = static_cast<int64_t>(r.revision);
                                         }
                                         found = r.event_id == event.event_id;
                                         return !found;
                                       });
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    if (found) return false;
    auto r = node_->Append(stream_, revision, std::span<const EventData>(&event, 1));
    if (r.ok()) return true;
    if (!absl::IsAborted(r.status())) {
      return absl::Status(r.status().code(), absl::StrCat("cannot write to the dead-letter stream ",
                                                          stream_, ": ", r.status().message()));
    }
    last = r.status();
  }
  return absl::AbortedError(absl::StrCat("the dead-letter stream ", stream_,
                                         " kept changing while writing to it: ", last.message()));
}

}  // namespace esdb
