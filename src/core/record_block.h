// A batch of records packed into one buffer: what a subscription callback copies out of the
// node's borrowed events with two allocations in all, instead of several per record. The
// consumer turns each entry into a Record later, on its own thread (see Runner::OnEventBlock).
#ifndef ESDB_CORE_RECORD_BLOCK_H_
#define ESDB_CORE_RECORD_BLOCK_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/position.h"
#include "core/record.h"

namespace esdb {

// One record's fields, pointing into a RecordBlock's buffer (or, before Add() copies it, into
// the caller's memory).
struct RecordView {
  std::string_view stream;
  uint64_t revision = 0;
  Position position;
  std::string_view event_id;
  std::string_view event_type;
  std::string_view content_type;
  std::string_view data;
  std::string_view metadata;
  int64_t created_unix_us = 0;

  // As Record::ByteSize().
  size_t ByteSize() const {
    return stream.size() + event_id.size() + event_type.size() + content_type.size() + data.size() +
           metadata.size() + 64;
  }
  Record ToRecord() const;
  // As ToRecord(), into `r`, whose strings keep their capacity (no allocation when they fit).
  void AssignTo(Record& r) const;
};

// Not thread-safe; moved from thread to thread whole. The views stay valid as long as the block.
class RecordBlock {
 public:
  // `bytes`: the total size of the fields of the records to be added (PackedSize()), so that
  // the buffer is allocated once.
  explicit RecordBlock(size_t bytes, size_t records);
  RecordBlock(RecordBlock&&) = default;
  RecordBlock& operator=(RecordBlock&&) = default;

  static size_t PackedSize(const RecordView& v) {
    return v.stream.size() + v.event_id.size() + v.event_type.size() + v.content_type.size() +
           v.data.size() + v.metadata.size();
  }

  // Copies the fields of `v` into the block. False, and nothing added, when they do not fit in
  // what the constructor was told.
  bool Add(const RecordView& v);
  // Keeps only the records for which keep(view) is true, in their order (their bytes stay).
  template <typename Keep>
  void Filter(Keep keep) {
    size_t out = 0;
    for (size_t i = 0; i < views_.size(); ++i) {
      if (keep(views_[i])) views_[out++] = views_[i];
    }
    views_.resize(out);
  }

  // What the block holds in memory: its buffer and its views.
  size_t MemoryBytes() const { return capacity_ + views_.capacity() * sizeof(RecordView); }

  size_t size() const { return views_.size(); }
  bool empty() const { return views_.empty(); }
  const RecordView& operator[](size_t i) const { return views_[i]; }
  const RecordView& back() const { return views_.back(); }

 private:
  std::string_view Copy(std::string_view s);  // REQUIRES: it fits

  std::unique_ptr<char[]> bytes_;
  size_t capacity_ = 0;
  size_t used_ = 0;
  std::vector<RecordView> views_;
};

}  // namespace esdb

#endif  // ESDB_CORE_RECORD_BLOCK_H_
