#include "core/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

using ::testing::HasSubstr;

std::string Nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonDepthTest, CountsContainersNotBracketsInStrings) {
  EXPECT_TRUE(JsonDepthWithin("{}", 1));
  EXPECT_FALSE(JsonDepthWithin("[{}]", 1));
  EXPECT_TRUE(JsonDepthWithin("[{}]", 2));
  EXPECT_TRUE(JsonDepthWithin(R"({"a": "[[[[[[", "b": "\"[[[["})", 1));
  EXPECT_TRUE(JsonDepthWithin(R"(["\\", [1]])", 2));  // an escaped backslash ends the escape
  EXPECT_FALSE(JsonDepthWithin(R"(["\\", [[1]]])", 2));
  EXPECT_TRUE(JsonDepthWithin("[][][][][]", 1));  // siblings do not add up
  EXPECT_TRUE(JsonDepthWithin("]]]]][", 1));     // invalid text: never negative
  EXPECT_FALSE(JsonDepthWithin("]]]]]][[", 1));  // stray closers cannot buy depth back
  EXPECT_TRUE(JsonDepthWithin("42", 0));
  EXPECT_FALSE(JsonDepthWithin("{}", 0));
  EXPECT_TRUE(JsonDepthWithin(R"({"a":[1,{"b":[]}]})", 4));
  EXPECT_FALSE(JsonDepthWithin(R"({"a":[1,{"b":[]}]})", 3));
  EXPECT_TRUE(JsonDepthWithin(R"({"k":"a\"[[[[\\"})", 1));  // escaped quote, then backslash
  EXPECT_FALSE(JsonDepthWithin(R"({"k":"a\\"[[[[})", 1));  // the string ended at \\"
  std::string deep = Nested(1000000);
  EXPECT_FALSE(JsonDepthWithin(deep, 32));
  EXPECT_TRUE(JsonDepthWithin(deep, 1000000));
}

TEST(ParseJsonTest, ParsesWithinTheLimit) {
  auto doc = ParseJson(R"({"settings": {"a": {"b": "c"}}})", 3, "body");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["settings"]["a"]["b"], "c");
}

TEST(ParseJsonTest, RefusesDeepDocumentsWithoutBuildingThem) {
  // 100,000 levels: a tree of this crashed the node when dumped or walked recursively.
  for (char open : {'[', '{'}) {
    std::string text = open == '[' ? Nested(100000) : "";
    if (open == '{') {
      for (int i = 0; i < 100000; ++i) text += R"({"a":)";
      text += "1" + std::string(100000, '}');
    }
    auto doc = ParseJson(text, kMaxRequestJsonDepth, "body");
    ASSERT_FALSE(doc.ok());
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(doc.status().message(), HasSubstr("body is nested more than 32 levels deep"));
  }
  EXPECT_TRUE(ParseJson(Nested(kMaxRequestJsonDepth), kMaxRequestJsonDepth, "body").ok());
}

TEST(ParseJsonTest, NamesWhatIsNotJson) {
  auto doc = ParseJson("{nope", 8, "metadata");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message(), "metadata is not valid JSON");
  EXPECT_FALSE(ParseJson("", 8, "x").ok());
  // nlohmann_json alone would read this as {} and drop the rest.
  EXPECT_FALSE(ParseJson(absl::string_view("{}\0{\"a\":1}", 10), 8, "x").ok());
  EXPECT_TRUE(ParseJson(R"({"a":"\u0000"})", 8, "x").ok());  // an escaped NUL is fine
}

TEST(DumpJsonTest, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::json v = std::string("a\xff" "b");
  EXPECT_EQ(DumpJson(v), "\"a\xEF\xBF\xBD" "b\"");
}

}  // namespace
}  // namespace esdb
