#include "core/settings.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

using ::testing::HasSubstr;

TEST(SettingsTest, DefaultsFollowTheProduct) {
  auto s = ParseSettings({{"instanceTypeName", "null-sink"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->instance_type, "null-sink");
  EXPECT_EQ(s->initial, InitialPosition::kLatest);
  EXPECT_EQ(s->autocommit_interval_ms, 5000);
  EXPECT_EQ(s->autocommit_records_threshold, 1000);
  EXPECT_EQ(s->first_delay_ms, 100);
  EXPECT_EQ(s->max_delay_ms, 30000);
  EXPECT_EQ(s->multiplier, 2.0);
  EXPECT_EQ(s->max_attempts, 0);
  EXPECT_EQ(s->affinity, Affinity::kLeader);
  EXPECT_EQ(s->write_timeout_ms, 300000);
  EXPECT_EQ(s->errors_tolerance, ErrorTolerance::kNone);
  EXPECT_EQ(s->dead_letter_stream, "");
  EXPECT_EQ(s->restart_policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(s->restart_max_delay_ms, 300000);
}

TEST(SettingsTest, ParsesTheFailurePolicyKeys) {
  auto s = ParseSettings({{"instanceTypeName", "null-sink"},
                          {"errors:tolerance", "ALL"},
                          {"errors:deadLetter:stream", "orders-dead-letters"},
                          {"resilience:writeTimeoutMs", "1500"},
                          {"restart:policy", "never"},
                          {"restart:maxDelayMs", "2000"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->errors_tolerance, ErrorTolerance::kAll);
  EXPECT_EQ(s->dead_letter_stream, "orders-dead-letters");
  EXPECT_EQ(s->write_timeout_ms, 1500);
  EXPECT_EQ(s->restart_policy, RestartPolicy::kNever);
  EXPECT_EQ(s->restart_max_delay_ms, 2000);
  EXPECT_TRUE(s->sink_settings.empty());
  EXPECT_TRUE(IsHostKey("errors:anything"));
  EXPECT_TRUE(IsHostKey("restart:anything"));
}

TEST(SettingsTest, DeadLetterStreamNamesTheConnectorMayNotWrite) {
  for (const char* bad : {"", "$all", "$$orders", "$connectors", "$connectors/other",
                          "$connectors/other/dead-letters", "$connectors/c1/checkpoints",
                          "$connectors-hosts", "bad\nname", "tab\tname"}) {
    std::string name = bad;
    auto s = ParseSettings({{"instanceTypeName", "null-sink"}, {"errors:deadLetter:stream", name}});
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("errors:deadLetter:stream")) << name;
  }
  EXPECT_FALSE(CheckDeadLetterStreamName(std::string(kMaxStreamNameBytes + 1, 'x')).ok());
  EXPECT_TRUE(CheckDeadLetterStreamName(std::string(kMaxStreamNameBytes, 'x')).ok());
  EXPECT_TRUE(CheckDeadLetterStreamName("$dead-letters").ok());  // another system stream is fine
  EXPECT_TRUE(CheckDeadLetterStreamName("orders/dead letters").ok());
}

TEST(SettingsTest, ParsesEveryHostKey) {
  auto s = ParseSettings({{"instanceTypeName", "file-sink"},
                          {"subscription:filter:scope", "record"},
                          {"subscription:filter:filterType", "prefix"},
                          {"subscription:filter:expression", "Order"},
                          {"subscription:initialPosition", "earliest"},
                          {"autocommit:enabled", "false"},
                          {"autocommit:interval", "250"},
                          {"autocommit:recordsThreshold", "10"},
                          {"resilience:enabled", "FALSE"},  // any case; true by default
                          {"resilience:firstDelayMs", "5"},
                          {"resilience:maxDelayMs", "50"},
                          {"resilience:multiplier", "1.5"},
                          {"resilience:maxAttempts", "3"},
                          {"batching:batchSize", "7"},
                          {"batching:batchTimeoutMs", "20"},
                          {"batching:maxBytes", "2048"},
                          {"affinity", "follower"},
                          {"path", "/tmp/x"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->filter.scope, FilterScope::kRecord);
  EXPECT_EQ(s->filter.type, FilterType::kPrefix);
  EXPECT_EQ(s->filter.expression, "Order");
  EXPECT_EQ(s->initial, InitialPosition::kEarliest);
  EXPECT_FALSE(s->autocommit_enabled);
  EXPECT_EQ(s->autocommit_interval_ms, 250);
  EXPECT_EQ(s->autocommit_records_threshold, 10);
  EXPECT_FALSE(s->resilience_enabled);
  EXPECT_EQ(s->first_delay_ms, 5);
  EXPECT_EQ(s->max_delay_ms, 50);
  EXPECT_EQ(s->multiplier, 1.5);
  EXPECT_EQ(s->max_attempts, 3);
  EXPECT_EQ(s->batch_size, 7);
  EXPECT_EQ(s->batch_timeout_ms, 20);
  EXPECT_EQ(s->batch_max_bytes, 2048);
  EXPECT_EQ(s->affinity, Affinity::kFollower);
  EXPECT_EQ(s->sink_settings, (SettingsMap{{"path", "/tmp/x"}}));
}

TEST(SettingsTest, InitialPositionAcceptsAPosition) {
  auto s = ParseSettings({{"instanceTypeName", "x"}, {"subscription:initialPosition", "123"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->initial, InitialPosition::kPosition);
  EXPECT_EQ(s->initial_position, (Position{123, 123}));
}

struct BadCase {
  SettingsMap settings;
  std::string key;  // must be named in the message
};

class BadSettingsTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSettingsTest, RejectedWithTheKeyNamed) {
  SettingsMap m = GetParam().settings;
  if (!m.contains("instanceTypeName")) m["instanceTypeName"] = "null-sink";
  auto s = ParseSettings(m);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(GetParam().key));
}

INSTANTIATE_TEST_SUITE_P(
    All, BadSettingsTest,
    ::testing::Values(
        BadCase{{{"instanceTypeName", ""}}, "instanceTypeName"},
        BadCase{{{"subscription:nope", "1"}}, "subscription:nope"},
        BadCase{{{"batching:batchSize", "many"}}, "batching:batchSize"},
        BadCase{{{"batching:batchSize", "0"}}, "batching:batchSize"},
        BadCase{{{"autocommit:interval", "-5"}}, "autocommit:interval"},
        BadCase{{{"autocommit:enabled", "yes"}}, "autocommit:enabled"},
        BadCase{{{"resilience:multiplier", "0.5"}}, "resilience:multiplier"},
        BadCase{{{"resilience:firstDelayMs", "100"}, {"resilience:maxDelayMs", "10"}},
                "resilience:maxDelayMs"},
        BadCase{{{"subscription:filter:filterType", "glob"}}, "subscription:filter:filterType"},
        BadCase{{{"subscription:filter:filterType", "regex"},
                 {"subscription:filter:expression", "[a-"}},
                "subscription:filter:expression"},
        BadCase{{{"subscription:initialPosition", "yesterday"}}, "subscription:initialPosition"},
        BadCase{{{"affinity", "anywhere"}}, "affinity"},
        BadCase{{{"transformer:enabled", "true"}}, "transformer:enabled"},
        BadCase{{{"errors:tolerance", "some"}}, "errors:tolerance"},
        BadCase{{{"errors:unknown", "1"}}, "errors:unknown"},
        BadCase{{{"restart:policy", "always"}}, "restart:policy"},
        BadCase{{{"restart:maxDelayMs", "999"}}, "restart:maxDelayMs"},
        BadCase{{{"restart:whenever", "1"}}, "restart:whenever"},
        BadCase{{{"resilience:writeTimeoutMs", "99"}}, "resilience:writeTimeoutMs"}));

TEST(SettingsTest, MissingInstanceTypeName) {
  auto s = ParseSettings({{"path", "x"}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("instanceTypeName"));
}

TEST(SettingsTest, ProductKeysWithoutEffectAreReportedAsIgnored) {
  auto s = ParseSettings({{"instanceTypeName", "null-sink"},
                          {"logging:enabled", "true"},
                          {"headers:ignoreSystem", "true"},
                          {"resilience:firstDelayBound:upperLimitMs", "60000"},
                          {"transformer:enabled", "false"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->ignored, ::testing::UnorderedElementsAre(
                              "logging:enabled", "headers:ignoreSystem",
                              "resilience:firstDelayBound:upperLimitMs", "transformer:enabled"));
  EXPECT_TRUE(s->sink_settings.empty());
}

TEST(SettingsTest, FlattensNestedJson) {
  auto m = FlattenSettings(nlohmann::json::parse(
      R"({"instanceTypeName":"http-sink","subscription":{"filter":{"scope":"stream"}},
          "batching":{"batchSize":5},"fsync":false})"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, (SettingsMap{{"instanceTypeName", "http-sink"},
                             {"subscription:filter:scope", "stream"},
                             {"batching:batchSize", "5"},
                             {"fsync", "false"}}));
}

TEST(SettingsTest, FlattenRejectsArraysNullsAndNonObjects) {
  EXPECT_FALSE(FlattenSettings(nlohmann::json::parse(R"([1])")).ok());
  auto arr = FlattenSettings(nlohmann::json::parse(R"({"a":{"b":[1]}})"));
  ASSERT_FALSE(arr.ok());
  EXPECT_THAT(std::string(arr.status().message()), HasSubstr("a:b"));
  EXPECT_FALSE(FlattenSettings(nlohmann::json::parse(R"({"a":null})")).ok());
}

}  // namespace
}  // namespace esdb
