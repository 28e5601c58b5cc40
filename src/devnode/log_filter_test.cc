#include "devnode/log_filter.h"

#include <vector>

#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

RecordedEvent Ev(std::string stream, std::string type) {
  RecordedEvent e;
  e.stream = std::move(stream);
  e.event_type = std::move(type);
  return e;
}

esdb_subscribe_options Options(int32_t scope, const char* regex,
                               const std::vector<const char*>& prefixes) {
  esdb_subscribe_options o{};
  o.struct_size = sizeof(o);
  o.filter_scope = scope;
  o.filter_regex = regex;
  o.filter_prefixes = prefixes.data();
  o.filter_prefix_count = prefixes.size();
  return o;
}

TEST(LogFilterTest, DefaultAndEmptyFiltersMatchEverything) {
  EXPECT_TRUE(LogFilter().Matches(Ev("a", "b")));
  std::vector<const char*> none;
  auto empty = LogFilter::Create(Options(ESDB_FILTER_STREAM, "", none));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->Matches(Ev("anything", "x")));
}

TEST(LogFilterTest, ScopeChoosesTheSubject) {
  std::vector<const char*> prefixes = {"Order"};
  auto by_type = LogFilter::Create(Options(ESDB_FILTER_EVENT_TYPE, nullptr, prefixes));
  ASSERT_TRUE(by_type.ok());
  EXPECT_TRUE(by_type->Matches(Ev("x", "OrderPlaced")));
  EXPECT_FALSE(by_type->Matches(Ev("Order-1", "Shipped")));
}

TEST(LogFilterTest, RegexIsSearchedAndOrWithPrefixes) {
  std::vector<const char*> prefixes = {"inv"};
  auto filter = LogFilter::Create(Options(ESDB_FILTER_STREAM, "-[0-9]+$", prefixes));
  ASSERT_TRUE(filter.ok());
  EXPECT_TRUE(filter->Matches(Ev("orders-12", "t")));
  EXPECT_TRUE(filter->Matches(Ev("invoices", "t")));
  EXPECT_FALSE(filter->Matches(Ev("orders-12a", "t")));
}

TEST(LogFilterTest, RejectsBadInput) {
  std::vector<const char*> none;
  EXPECT_FALSE(LogFilter::Create(Options(ESDB_FILTER_STREAM, "(", none)).ok());
  EXPECT_FALSE(LogFilter::Create(Options(5, nullptr, none)).ok());
  esdb_subscribe_options null_list = Options(ESDB_FILTER_STREAM, nullptr, none);
  null_list.filter_prefixes = nullptr;
  null_list.filter_prefix_count = 2;
  EXPECT_FALSE(LogFilter::Create(null_list).ok());
}

}  // namespace
}  // namespace esdb::devnode
