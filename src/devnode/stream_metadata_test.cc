#include "devnode/stream_metadata.h"

#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

TEST(StreamMetadataTest, ReadsMaxCountAndKeepsOtherKeys) {
  auto parsed = ParseStreamMetadata(R"({ "$maxCount": 10, "owner": "x" })");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->max_count, 10u);
  EXPECT_EQ(parsed->json, R"({"$maxCount":10,"owner":"x"})");
}

TEST(StreamMetadataTest, NoMaxCount) {
  auto parsed = ParseStreamMetadata("{}");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->max_count.has_value());
}

TEST(StreamMetadataTest, RejectsNonObjectsAndBadMaxCount) {
  for (const char* bad : {"", "null", "[]", "{", R"({"$maxCount":-1})", R"({"$maxCount":0})",
                          R"({"$maxCount":true})"}) {
    EXPECT_EQ(ParseStreamMetadata(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace esdb::devnode
