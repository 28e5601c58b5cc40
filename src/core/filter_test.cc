#include "core/filter.h"

#include "gtest/gtest.h"

namespace esdb {
namespace {

Filter Make(FilterScope scope, FilterType type, std::string expr, bool system = false) {
  auto f = Filter::Create({scope, type, std::move(expr), system});
  EXPECT_TRUE(f.ok()) << f.status();
  return *f;
}

TEST(FilterTest, NoFilterExcludesSystemAndOwnStreams) {
  Filter f = Make(FilterScope::kStream, FilterType::kNone, "");
  EXPECT_TRUE(f.Matches("orders-1", "Placed"));
  EXPECT_FALSE(f.Matches("$stats", "x"));
  EXPECT_FALSE(f.Matches("$connectors/a", "ConnectorCreated"));
  // The system streams are dropped by the node already (the connectors' own checkpoints are
  // many), and only they.
  ServerFilter sf = f.ToServerFilter();
  EXPECT_TRUE(sf.enabled);
  EXPECT_EQ(sf.scope, FilterScope::kStream);
  EXPECT_EQ(sf.regex, kNotSystemStreamRegex);
  EXPECT_TRUE(sf.prefixes.empty());
}

TEST(FilterTest, IncludeSystemStillNeverDeliversConnectorStreams) {
  Filter f = Make(FilterScope::kStream, FilterType::kNone, "", /*system=*/true);
  EXPECT_TRUE(f.Matches("$stats", "x"));
  EXPECT_FALSE(f.Matches("$connectors", "x"));
  EXPECT_FALSE(f.Matches("$connectors/a/checkpoints", "Checkpoint"));
  EXPECT_FALSE(f.ToServerFilter().enabled);
}

TEST(FilterTest, StreamPrefixes) {
  Filter f = Make(FilterScope::kStream, FilterType::kPrefix, "orders-, users-");
  EXPECT_TRUE(f.Matches("orders-1", "a"));
  EXPECT_TRUE(f.Matches("users-2", "a"));
  EXPECT_FALSE(f.Matches("payments-1", "orders-"));
  EXPECT_EQ(f.ToServerFilter().prefixes, (std::vector<std::string>{"orders-", "users-"}));
}

TEST(FilterTest, StreamIdIsExact) {
  Filter f = Make(FilterScope::kStream, FilterType::kStreamId, "orders-1");
  EXPECT_TRUE(f.Matches("orders-1", "a"));
  EXPECT_FALSE(f.Matches("orders-10", "a"));
}

TEST(FilterTest, RegexOnEventType) {
  Filter f = Make(FilterScope::kRecord, FilterType::kRegex, "^(Placed|Shipped)$");
  EXPECT_TRUE(f.Matches("orders-1", "Placed"));
  EXPECT_FALSE(f.Matches("Placed", "Cancelled"));
  EXPECT_FALSE(f.Matches("$system", "Placed"));
  ServerFilter sf = f.ToServerFilter();
  EXPECT_EQ(sf.scope, FilterScope::kRecord);
  EXPECT_EQ(sf.regex, "^(Placed|Shipped)$");
}

TEST(FilterTest, BadExpressionsNameTheKey) {
  auto bad_regex = Filter::Create({FilterScope::kStream, FilterType::kRegex, "(unclosed", false});
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_NE(bad_regex.status().message().find("subscription:filter:expression"), std::string::npos);
  EXPECT_FALSE(Filter::Create({FilterScope::kStream, FilterType::kPrefix, " , ", false}).ok());
  EXPECT_FALSE(Filter::Create({FilterScope::kStream, FilterType::kStreamId, "", false}).ok());
}

}  // namespace
}  // namespace esdb
