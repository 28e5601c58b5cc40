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

TEST(StreamMetadataTest, TruncateBeforeIsParsedAndSetKeepingOtherKeys) {
  absl::StatusOr<StreamMetadata> parsed = ParseStreamMetadata(R"({"$tb":3,"k":"v"})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->truncate_before, 3u);
  StreamMetadata deleted = WithTruncateBefore(*parsed, 9);
  EXPECT_EQ(deleted.truncate_before, 9u);
  absl::StatusOr<StreamMetadata> again = ParseStreamMetadata(deleted.json);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->truncate_before, 9u);
  EXPECT_NE(deleted.json.find(R"("k":"v")"), std::string::npos);
  for (const char* bad : {R"({"$tb":-1})", R"({"$tb":"3"})"}) {
    EXPECT_EQ(ParseStreamMetadata(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace esdb::devnode
