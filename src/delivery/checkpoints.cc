#include "delivery/checkpoints.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "connector/connector.h"
#include "core/json.h"
#include "nlohmann/json.hpp"

namespace esdb {

CheckpointStore::CheckpointStore(const NodeClient* node, std::string connector_id,
                                 int64_t generation, std::string host)
    : node_(node),
      id_(std::move(connector_id)),
      stream_(CheckpointStream(id_, generation)),
      host_(std::move(host)) {}

absl::StatusOr<std::optional<Checkpoint>> CheckpointStore::Load() {
  std::optional<Checkpoint> found;
  int64_t revision = ESDB_EXPECT_NO_STREAM;
  absl::Status s = node_->ReadStream(
      stream_, Direction::kBackwards, ESDB_REVISION_END, 1, [&](const Record& r) {
        revision = static_cast<int64_t>(r.revision);
        found = ParseCheckpoint(r);
        return false;
      });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  expected_revision_ = revision;
  if (found) {
    dead_letters_ = found->dead_letters;
    last_dead_letter_error_ = found->last_dead_letter_error;
    last_dead_letter_us_ = found->last_dead_letter_us;
  }
  return found;
}

void CheckpointStore::AddDeadLetter(std::string error, int64_t at_us) {
  ++dead_letters_;
  last_dead_letter_error_ = std::move(error);
  last_dead_letter_us_ = at_us;
}

absl::Status CheckpointStore::Save(Position position, int64_t epoch) {
  auto revision = Write(Prepare(position, epoch));
  if (!revision.ok()) return revision.status();
  Commit(*revision);
  return absl::OkStatus();
}

CheckpointStore::Pending CheckpointStore::Prepare(Position position, int64_t epoch) const {
  Pending p;
  p.node = node_;
  p.stream = stream_;
  p.id = id_;
  p.set_metadata = expected_revision_ == ESDB_EXPECT_NO_STREAM;
  p.expected_revision = expected_revision_;
  p.event.event_type = kCheckpointEvent;
  nlohmann::json data = {
      {"position", {{"commit", position.commit}, {"prepare", position.prepare}}},
      {"epoch", epoch},
      {"host", host_},
      {"at", absl::FormatTime(absl::RFC3339_full, absl::Now(), absl::UTCTimeZone())}};
  if (dead_letters_ > 0) {
    data["deadLetters"] = {{"count", dead_letters_},
                           {"lastError", last_dead_letter_error_},
                           {"lastAt", last_dead_letter_us_}};
  }
  p.event.data = DumpJson(data);
  return p;
}

absl::StatusOr<int64_t> CheckpointStore::Write(const Pending& p) {
  if (p.set_metadata) {
    // Keep the stream short; set before the first checkpoint so it is never unbounded.
    if (auto s = p.node->SetStreamMetadata(
            p.stream, absl::StrCat(R"({"$maxCount":)", kCheckpointMaxCount, "}"));
        !s.ok()) {
      return s;
    }
  }
  auto r = p.node->Append(p.stream, p.expected_revision, std::span<const EventData>(&p.event, 1));
  if (!r.ok()) {
    if (absl::IsFailedPrecondition(r.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("the checkpoint stream ", p.stream,
                       " was deleted for ever outside the connectors "
                       "library; delete the connector and create it again"));
    }
    if (absl::IsAborted(r.status())) {
      return absl::AbortedError(absl::StrCat("connector '", p.id,
                                             "' was checkpointed by another runner; this runner "
                                             "has been fenced off"));
    }
    return r.status();
  }
  return static_cast<int64_t>(r->revision);
}

}  // namespace esdb
