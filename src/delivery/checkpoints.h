// A connector's checkpoints, in its checkpoint stream (connector/connector.h: CheckpointStream). Every save expects the revision of
// the previous one, so of two runners of one connector the one that did not write last is fenced
// off at its next save.
#ifndef ESDB_DELIVERY_CHECKPOINTS_H_
#define ESDB_DELIVERY_CHECKPOINTS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "connector/connector.h"
#include "core/position.h"
#include "node/node_client.h"

namespace esdb {

inline constexpr int kCheckpointMaxCount = 10;

class CheckpointStore {
 public:
  // For the connector's streams of `generation` (Connector::generation).
  CheckpointStore(const NodeClient* node, std::string connector_id, int64_t generation,
                  std::string host);

  // The last checkpoint (nullopt when there is none). Remembers its revision for Save(), and
  // its dead-letter tally, whatever its epoch, for the checkpoints that follow.
  absl::StatusOr<std::optional<Checkpoint>> Load();

  // Counts a record set aside in the dead-letter stream; saved with the next checkpoint.
  void AddDeadLetter(std::string error, int64_t at_us);
  int64_t dead_letters() const { return dead_letters_; }

  // Appends a checkpoint. Aborted when another writer appended since Load() or the last Save():
  // this runner has been fenced off and must stop. FailedPrecondition when the stream was
  // tombstoned: no checkpoint can ever be written again.
  absl::Status Save(Position position, int64_t epoch);

  // Save() in three steps, so that the append can run on another thread while delivery goes on:
  // Prepare() (the owner's thread) snapshots what the checkpoint says and the revision it
  // expects; Write() (any thread; touches nothing of the store) appends it; Commit() (the
  // owner's thread again) takes the new revision. One Write() at a time, each committed before
  // the next Prepare().
  struct Pending {
    const NodeClient* node = nullptr;
    std::string stream, id;
    bool set_metadata = false;  // the first checkpoint of the stream
    int64_t expected_revision = 0;
    EventData event;
  };
  Pending Prepare(Position position, int64_t epoch) const;
  // The revision written, or Save()'s errors.
  static absl::StatusOr<int64_t> Write(const Pending& pending);
  void Commit(int64_t revision) { expected_revision_ = revision; }

 private:
  const NodeClient* node_;
  std::string id_, stream_, host_;
  int64_t expected_revision_ = ESDB_EXPECT_NO_STREAM;
  int64_t dead_letters_ = 0;
  std::string last_dead_letter_error_;
  int64_t last_dead_letter_us_ = 0;
};

}  // namespace esdb

#endif  // ESDB_DELIVERY_CHECKPOINTS_H_
