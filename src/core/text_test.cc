#include "core/text.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

TEST(TextTest, FindsControlCharacters) {
  EXPECT_EQ(FindControl("orders-1"), absl::string_view::npos);
  EXPECT_EQ(FindControl("caf\xc3\xa9"), absl::string_view::npos);  // UTF-8 is not control
  EXPECT_EQ(FindControl(std::string("a\0b", 3)), 1u);
  EXPECT_EQ(FindControl("ab\n"), 2u);
  EXPECT_EQ(FindControl("\x7f"), 0u);
}

TEST(TextTest, RecognisesWellFormedUtf8) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("orders-1 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (const char* bad : {"\xff", "caf\xe9", "\xc3", "\xe2\x82", "\xc0\xaf" /* overlong '/' */,
                          "\xed\xa0\x80" /* a surrogate */, "\xf4\x90\x80\x80" /* > U+10FFFF */,
                          "\x80"}) {
    EXPECT_FALSE(IsUtf8(bad)) << absl::CEscape(bad);
  }
}

TEST(TextTest, EscapedTextStaysOnOneLine) {
  EXPECT_EQ(EscapeControl("s\nINFO forged\r\t\x1b[31m\\"), "s\\nINFO forged\\r\\t\\x1b[31m\\\\");
  EXPECT_EQ(EscapeControl(std::string("\0", 1)), "\\x00");
  // A whole line: the same escapes, backslashes as they were.
  EXPECT_EQ(OneLine("s\nINFO forged\r\t\x1b[31m\\"), "s\\nINFO forged\\r\\t\\x1b[31m\\");
}

TEST(TextTest, ExcerptCutsLongTextAtACharacterBoundary) {
  EXPECT_EQ(Excerpt("short"), "short");
  EXPECT_EQ(Excerpt(std::string(1000, 'x'), 10), "xxxxxxxxxx...");
  // 9 ASCII bytes then a two-byte character straddling the cut at 10.
  EXPECT_EQ(Excerpt("123456789\xc3\xa9zzz", 10), "123456789...");
}

TEST(PercentDecodeTest, DecodesEscapesAndPlusAsToldInAPathOrAQuery) {
  EXPECT_EQ(*PercentDecode("/a%20b%2Fc%2fd", PlusSign::kLiteral), "/a b/c/d");
  EXPECT_EQ(*PercentDecode("a+b", PlusSign::kLiteral), "a+b");
  EXPECT_EQ(*PercentDecode("a+b%2B", PlusSign::kSpace), "a b+");
  EXPECT_EQ(*PercentDecode("%C3%A9", PlusSign::kLiteral), "\xC3\xA9");
  EXPECT_EQ(*PercentDecode("", PlusSign::kSpace), "");
}

TEST(PercentDecodeTest, RejectsBadEscapesWhateverPlusMeans) {
  for (PlusSign plus : {PlusSign::kLiteral, PlusSign::kSpace}) {
    for (const char* bad : {"%", "%2", "/a%zz", "/a%2g", "%g2", "/x%00y", "50%"}) {
      absl::StatusOr<std::string> decoded = PercentDecode(bad, plus);
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
  // The input is quoted escaped and cut, as any untrusted text in a message.
  absl::StatusOr<std::string> decoded =
      PercentDecode(std::string(200, 'a') + "\n%zz", PlusSign::kLiteral);
  EXPECT_LT(decoded.status().message().size(), 200u);
  EXPECT_EQ(decoded.status().message().find('\n'), absl::string_view::npos);
}

}  // namespace
}  // namespace esdb
