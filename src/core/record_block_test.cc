#include "core/record_block.h"

#include <string>

#include "gtest/gtest.h"

namespace esdb {
namespace {

RecordView View(const std::string& stream, uint64_t commit, const std::string& data) {
  RecordView v;
  v.stream = stream;
  v.revision = commit + 1;
  v.position = {commit, commit};
  v.event_id = "6f0b1c2e-0000-4000-8000-000000000001";
  v.event_type = "Thing";
  v.content_type = "application/json";
  v.data = data;
  v.created_unix_us = 42;
  return v;
}

TEST(RecordBlockTest, CopiesEveryFieldOutOfTheCallersMemory) {
  std::string stream = "orders-1", data = R"({"a":1})";
  RecordView v = View(stream, 7, data);
  RecordBlock block(RecordBlock::PackedSize(v), 1);
  ASSERT_TRUE(block.Add(v));
  stream.assign("overwritten");
  data.assign("gone");
  ASSERT_EQ(block.size(), 1u);
  Record r = block[0].ToRecord();
  EXPECT_EQ(r.stream, "orders-1");
  EXPECT_EQ(r.data, R"({"a":1})");
  EXPECT_EQ(r.revision, 8u);
  EXPECT_EQ(r.position, (Position{7, 7}));
  EXPECT_EQ(r.event_id, "6f0b1c2e-0000-4000-8000-000000000001");
  EXPECT_EQ(r.event_type, "Thing");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(r.metadata.empty());
  EXPECT_EQ(r.created_unix_us, 42);
  EXPECT_EQ(block[0].ByteSize(), r.ByteSize());
}

TEST(RecordBlockTest, AssignToOverwritesEveryFieldOfARecordInPlace) {
  std::string stream = "orders-1", data = R"({"a":1})";
  RecordView v = View(stream, 7, data);
  RecordBlock block(RecordBlock::PackedSize(v), 1);
  ASSERT_TRUE(block.Add(v));
  Record r;
  r.stream = "a much longer stream name than the one that replaces it";
  r.metadata = "old metadata";
  r.event_id = "old id";
  block[0].AssignTo(r);
  Record want = block[0].ToRecord();
  EXPECT_EQ(r.stream, want.stream);
  EXPECT_EQ(r.data, want.data);
  EXPECT_EQ(r.metadata, want.metadata);
  EXPECT_EQ(r.event_id, want.event_id);
  EXPECT_EQ(r.event_type, want.event_type);
  EXPECT_EQ(r.content_type, want.content_type);
  EXPECT_EQ(r.revision, want.revision);
  EXPECT_EQ(r.position, want.position);
  EXPECT_EQ(r.created_unix_us, want.created_unix_us);
}

TEST(RecordBlockTest, FilterKeepsOrderAndSurvivesAMove) {
  std::string a = "a", b = "b", c = "c", d = "x";
  std::vector<RecordView> in = {View(a, 1, d), View(b, 2, d), View(c, 3, d)};
  size_t bytes = 0;
  for (const RecordView& v : in) bytes += RecordBlock::PackedSize(v);
  RecordBlock block(bytes, in.size());
  for (const RecordView& v : in) ASSERT_TRUE(block.Add(v));
  block.Filter([](const RecordView& v) { return v.stream != "b"; });
  RecordBlock moved = std::move(block);
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].stream, "a");
  EXPECT_EQ(moved.back().stream, "c");
  EXPECT_EQ(moved.back().position.commit, 3u);
}

TEST(RecordBlockTest, RefusesMoreThanAnnounced) {
  std::string s = "stream", d = "data";
  RecordBlock block(3, 1);
  EXPECT_FALSE(block.Add(View(s, 1, d)));
  EXPECT_TRUE(block.empty());
}

TEST(RecordBlockTest, EmptyFieldsNeedNoBuffer) {
  RecordView v;
  RecordBlock block(0, 1);
  ASSERT_TRUE(block.Add(v));
  EXPECT_EQ(block[0].ToRecord().stream, "");
}

}  // namespace
}  // namespace esdb
