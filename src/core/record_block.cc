#include "core/record_block.h"

#include <cstring>

namespace esdb {

Record RecordView::ToRecord() const {
  Record r;
  AssignTo(r);
  return r;
}

void RecordView::AssignTo(Record& r) const {
  r.stream.assign(stream);
  r.revision = revision;
  r.position = position;
  r.event_id.assign(event_id);
  r.event_type.assign(event_type);
  r.content_type.assign(content_type);
  r.data.assign(data);
  r.metadata.assign(metadata);
  r.created_unix_us = created_unix_us;
}

RecordBlock::RecordBlock(size_t bytes, size_t records)
    : bytes_(bytes > 0 ? std::make_unique_for_overwrite<char[]>(bytes) : nullptr),
      capacity_(bytes) {
  views_.reserve(records);
}

std::string_view RecordBlock::Copy(std::string_view s) {
  if (s.empty()) return {};
  char* at = bytes_.get() + used_;
  std::memcpy(at, s.data(), s.size());
  used_ += s.size();
  return {at, s.size()};
}

bool RecordBlock::Add(const RecordView& v) {
  if (PackedSize(v) > capacity_ - used_) return false;
  RecordView c = v;
  c.stream = Copy(v.stream);
  c.event_id = Copy(v.event_id);
  c.event_type = Copy(v.event_type);
  c.content_type = Copy(v.content_type);
  c.data = Copy(v.data);
  c.metadata = Copy(v.metadata);
  views_.push_back(c);
  return true;
}

}  // namespace esdb
