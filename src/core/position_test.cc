#include "core/position.h"

#include "gtest/gtest.h"

namespace esdb {
namespace {

TEST(PositionTest, ParsesAndPrints) {
  auto p = Position::Parse("42");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (Position{42, 42}));
  EXPECT_EQ(p->ToString(), "42");
  auto q = Position::Parse("10/7");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, (Position{10, 7}));
  EXPECT_EQ(q->ToString(), "10/7");
  EXPECT_EQ(Position::Parse("10:7").value(), (Position{10, 7}));
}

TEST(PositionTest, RejectsGarbage) {
  for (const char* bad : {"", "-1", "+3", "x", "1/", "/1", "1/2/3", "1.5", "99999999999999999999"}) {
    EXPECT_FALSE(Position::Parse(bad).ok()) << bad;
  }
}

// Found by tests/fuzz (position): SimpleAtoi's leniency let whitespace through.
TEST(PositionTest, RejectsWhitespaceAndSignsAroundEitherNumber) {
  for (const char* bad :
       {" 12345", "12345 ", "\t1", "1\n", "1/ 2", "1/2 ", " 1:2", "1/-2", "1/+2"}) {
    EXPECT_FALSE(Position::Parse(bad).ok()) << bad;
  }
}

TEST(PositionTest, ErrorEscapesWhatItQuotes) {
  auto p = Position::Parse("1\n2");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().find('\n'), std::string::npos) << p.status();
}

TEST(PositionTest, Orders) {
  EXPECT_LT((Position{1, 1}), (Position{2, 0}));
  EXPECT_LT((Position{2, 1}), (Position{2, 2}));
}

}  // namespace
}  // namespace esdb
