#include "devnode/memory_store.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace esdb::devnode {
namespace {

struct StreamState {
  std::vector<uint64_t> positions;  // positions[revision]
  StreamMetadata metadata;
  bool tombstoned = false;
};

StreamInfo InfoOf(const StreamState& state) {
  StreamInfo info;
  info.last_revision = static_cast<int64_t>(state.positions.size()) - 1;
  info.metadata = state.metadata;
  info.tombstoned = state.tombstoned;
  return info;
}

class MemoryStore final : public LogStore {
 public:
  absl::StatusOr<std::vector<AppendOutcome>> Append(std::vector<StreamAppend> appends,
                                                    std::vector<RecordedEvent>* written) override;
  absl::Status SetStreamMetadata(const std::string& stream,
                                 const StreamMetadata& metadata) override;
  absl::Status DeleteStream(const std::string& stream, int64_t expected_revision,
                            bool tombstone) override;
  uint64_t LastPosition() const override { return last_position_.load(); }
  absl::StatusOr<std::unique_ptr<LogReader>> OpenReader() override;

 private:
  friend class MemoryReader;

  mutable absl::Mutex mu_;
  std::vector<RecordedEvent> events_ ABSL_GUARDED_BY(mu_);  // events_[position - 1]
  absl::flat_hash_map<std::string, StreamState> streams_ ABSL_GUARDED_BY(mu_);
  // Mirrors events_.size() so LastPosition() takes no lock.
  std::atomic<uint64_t> last_position_{0};
};

class MemoryReader final : public LogReader {
 public:
  explicit MemoryReader(const MemoryStore* store) : store_(store) {}

  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(ReadDirection direction,
                                                     uint64_t from_position, size_t max_count,
                                                     size_t max_bytes) override {
    absl::ReaderMutexLock lock(&store_->mu_);
    const std::vector<RecordedEvent>& events = store_->events_;
    std::vector<RecordedEvent> out;
    size_t bytes = 0;
    auto more = [&] { return out.size() < max_count && bytes < max_bytes; };
    if (direction == ReadDirection::kForwards) {
      for (uint64_t p = std::max<uint64_t>(from_position, 1); p <= events.size() && more(); ++p) {
        bytes += out.emplace_back(events[p - 1]).ByteSize();
      }
    } else {
      for (uint64_t p = std::min<uint64_t>(from_position, events.size()); p >= 1 && more(); --p) {
        bytes += out.emplace_back(events[p - 1]).ByteSize();
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(const std::string& stream,
                                                        ReadDirection direction,
                                                        uint64_t from_revision,
                                                        size_t max_count) override {
    absl::ReaderMutexLock lock(&store_->mu_);
    std::vector<RecordedEvent> out;
    auto it = store_->streams_.find(stream);
    if (it == store_->streams_.end() || it->second.positions.empty()) return out;
    const std::vector<uint64_t>& positions = it->second.positions;
    auto copy = [&](uint64_t revision) { out.push_back(store_->events_[positions[revision] - 1]); };
    if (direction == ReadDirection::kForwards) {
      for (uint64_t r = from_revision; r < positions.size() && out.size() < max_count; ++r) {
        copy(r);
      }
    } else {
      // Revisions from min(from_revision, last) down to 0; `r` counts one above the revision.
      for (uint64_t r = std::min<uint64_t>(from_revision, positions.size() - 1) + 1;
           r > 0 && out.size() < max_count; --r) {
        copy(r - 1);
      }
    }
    return out;
  }

  absl::StatusOr<std::optional<StreamInfo>> GetStream(const std::string& stream) override {
    absl::ReaderMutexLock lock(&store_->mu_);
    auto it = store_->streams_.find(stream);
    if (it == store_->streams_.end()) return std::nullopt;
    return InfoOf(it->second);
  }

 private:
  const MemoryStore* store_;
};

absl::StatusOr<std::vector<AppendOutcome>> MemoryStore::Append(
    std::vector<StreamAppend> appends, std::vector<RecordedEvent>* written) {
  absl::MutexLock lock(&mu_);
  // Check every expectation first so that a failure leaves the log untouched. A stream named
  // twice is checked against the revision the earlier entries will have left it at.
  absl::flat_hash_map<std::string, StreamInfo> planned;
  for (const StreamAppend& append : appends) {
    StreamInfo info;
    if (auto p = planned.find(append.stream); p != planned.end()) {
      info = p->second;
    } else if (auto s = streams_.find(append.stream); s != streams_.end()) {
      info = InfoOf(s->second);
    }
    if (absl::Status st = CheckStreamWrite(append.stream, info, append.expected_revision);
        !st.ok()) {
      return st;
    }
    info.last_revision += static_cast<int64_t>(append.events.size());
    planned[append.stream] = std::move(info);
  }
  std::vector<AppendOutcome> outcomes;
  outcomes.reserve(appends.size());
  const size_t first_new = events_.size();
  for (StreamAppend& append : appends) {
    // Zero events must not create the stream.
    auto s = streams_.find(append.stream);
    if (s == streams_.end() && !append.events.empty()) {
      s = streams_.try_emplace(append.stream).first;
    }
    for (NewEvent& event : append.events) {
      RecordedEvent& stored = events_.emplace_back();
      stored.position = events_.size();
      stored.stream = append.stream;
      stored.revision = s->second.positions.size();
      stored.event_id = std::move(event.event_id);
      stored.event_type = std::move(event.event_type);
      stored.content_type = std::move(event.content_type);
      stored.data = std::move(event.data);
      stored.metadata = std::move(event.metadata);
      stored.created_unix_us = event.created_unix_us;
      s->second.positions.push_back(stored.position);
    }
    AppendOutcome outcome;
    if (s == streams_.end() || s->second.positions.empty()) {
      outcome.last_revision = kNoRevision;
    } else {
      outcome.last_revision = s->second.positions.size() - 1;
      outcome.last_position = s->second.positions.back();
    }
    outcomes.push_back(outcome);
  }
  last_position_.store(events_.size());
  if (written != nullptr) written->assign(events_.begin() + first_new, events_.end());
  return outcomes;
}

absl::Status MemoryStore::SetStreamMetadata(const std::string& stream,
                                            const StreamMetadata& metadata) {
  absl::MutexLock lock(&mu_);
  streams_[stream].metadata = metadata;
  return absl::OkStatus();
}

absl::Status MemoryStore::DeleteStream(const std::string& stream, int64_t expected_revision,
                                       bool tombstone) {
  absl::MutexLock lock(&mu_);
  auto s = streams_.find(stream);
  StreamInfo info = s != streams_.end() ? InfoOf(s->second) : StreamInfo{};
  if (absl::Status st = CheckStreamWrite(stream, info, expected_revision); !st.ok()) return st;
  if (tombstone) {
    streams_[stream].tombstoned = true;
  } else if (s != streams_.end() && !s->second.positions.empty()) {
    s->second.metadata = WithTruncateBefore(s->second.metadata, s->second.positions.size());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LogReader>> MemoryStore::OpenReader() {
  return std::make_unique<MemoryReader>(this);
}

}  // namespace

std::unique_ptr<LogStore> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace esdb::devnode
