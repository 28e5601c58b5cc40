#include "core/host_settings.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Both delay bounds as wide as can be, so that any value of either passes their cross-check.
SettingsMap Base() {
  return {{"instanceTypeName", "null-sink"},
          {"resilience:firstDelayMs", "0"},
          {"resilience:maxDelayMs", "2147483647"}};
}

absl::StatusOr<ConnectorSettings> ParseWith(const std::string& key, const std::string& value) {
  SettingsMap m = Base();
  if (key == "subscription:filter:filterType") m["subscription:filter:expression"] = "orders";
  m[key] = value;
  return ParseSettings(m);
}

TEST(HostSettingsTest, EveryRangeIsTheTables) {
  for (const HostSetting& s : HostSettings()) {
    if (s.type != HostSettingType::kInt && s.type != HostSettingType::kNumber) continue;
    const std::string key(s.name);
    EXPECT_TRUE(ParseWith(key, absl::StrCat(s.min)).ok()) << key;
    EXPECT_TRUE(ParseWith(key, absl::StrCat(s.max)).ok()) << key;
    for (int64_t outside : {s.min - 1, s.max + 1}) {
      auto r = ParseWith(key, absl::StrCat(outside));
      ASSERT_FALSE(r.ok()) << key << "=" << outside;
      EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat(key, ": '", outside, "'")));
      EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("from ", s.min, " to ", s.max)));
    }
  }
}

TEST(HostSettingsTest, EveryEnumWordIsAcceptedInAnyCaseAndNothingElse) {
  for (const HostSetting& s : HostSettings()) {
    if (s.type != HostSettingType::kEnum) continue;
    const std::string key(s.name);
    for (absl::string_view word : EnumValues(s)) {
      EXPECT_TRUE(ParseWith(key, std::string(word)).ok()) << key << "=" << word;
      EXPECT_TRUE(ParseWith(key, absl::AsciiStrToUpper(word)).ok()) << key << "=" << word;
    }
    auto r = ParseWith(key, "nonsense");
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_THAT(r.status().message(), HasSubstr(absl::StrJoin(EnumValues(s), ", ")));
  }
}

TEST(HostSettingsTest, TheTablesDefaultsAreWhatAConnectorGetsWithoutTheKeys) {
  auto defaults = ParseSettings({{"instanceTypeName", "null-sink"}});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  for (const HostSetting& s : HostSettings()) {
    if (s.default_value.empty() || s.ignored) continue;
    auto explicit_default = ParseWith(std::string(s.name), std::string(s.default_value));
    ASSERT_TRUE(explicit_default.ok()) << s.name << ": " << explicit_default.status();
  }
  // What code that builds ConnectorSettings directly gets is what the table says.
  const ConnectorSettings plain;
  EXPECT_EQ(defaults->autocommit_enabled, plain.autocommit_enabled);
  EXPECT_EQ(defaults->autocommit_interval_ms, plain.autocommit_interval_ms);
  EXPECT_EQ(defaults->autocommit_records_threshold, plain.autocommit_records_threshold);
  EXPECT_EQ(defaults->resilience_enabled, plain.resilience_enabled);
  EXPECT_EQ(defaults->first_delay_ms, plain.first_delay_ms);
  EXPECT_EQ(defaults->max_delay_ms, plain.max_delay_ms);
  EXPECT_EQ(defaults->multiplier, plain.multiplier);
  EXPECT_EQ(defaults->max_attempts, plain.max_attempts);
  EXPECT_EQ(defaults->write_timeout_ms, plain.write_timeout_ms);
  EXPECT_EQ(defaults->errors_tolerance, plain.errors_tolerance);
  EXPECT_EQ(defaults->restart_policy, plain.restart_policy);
  EXPECT_EQ(defaults->restart_max_delay_ms, plain.restart_max_delay_ms);
  EXPECT_EQ(defaults->batch_size, plain.batch_size);
  EXPECT_EQ(defaults->batch_timeout_ms, plain.batch_timeout_ms);
  EXPECT_EQ(defaults->batch_max_bytes, plain.batch_max_bytes);
  EXPECT_EQ(defaults->affinity, plain.affinity);
  EXPECT_EQ(defaults->initial, plain.initial);
  EXPECT_EQ(defaults->filter.scope, plain.filter.scope);
  EXPECT_EQ(defaults->filter.include_system, plain.filter.include_system);
}

// A key each ignored entry stands for: patterns get a concrete tail.
std::string Instance(const HostSetting& s) {
  std::string key = absl::StrReplaceAll(s.name, {{"*", "x"}});
  if (absl::EndsWith(key, ":")) key += "level";
  return key;
}

TEST(HostSettingsTest, IgnoredKeysAreReportedAndReachNoSink) {
  for (const HostSetting& s : HostSettings()) {
    if (!s.ignored) continue;
    const std::string key = Instance(s);
    auto r = ParseWith(key, s.type == HostSettingType::kBool ? "false" : "anything");
    ASSERT_TRUE(r.ok()) << key << ": " << r.status();
    EXPECT_THAT(r->ignored, Contains(key));
    EXPECT_TRUE(r->sink_settings.empty()) << key;
  }
  EXPECT_EQ(FindHostSetting("transformer:enabled")->name, "transformer:enabled")
      << "an exact entry wins over the family it is in";
  EXPECT_EQ(FindHostSetting("resilience:DelayBound"), nullptr);
  EXPECT_EQ(FindHostSetting("resilience:firstDelayBound:upperLimitMs")->name,
            "resilience:*DelayBound:*");
}

TEST(HostSettingsTest, AKeyInAHostNamespaceThatNoEntryGovernsIsRefused) {
  for (absl::string_view ns : HostNamespaces()) {
    const std::string key = absl::StrCat(ns, "noSuchKey");
    if (FindHostSetting(key) != nullptr) continue;  // a namespace that is one ignored family
    auto r = ParseWith(key, "1");
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.status().message(), absl::StrCat(key, ": unknown setting"));
  }
}

// How docs/operations.md writes an entry's type and default.
std::string DocType(const HostSetting& s) {
  auto range = [&](absl::string_view type) {
    return absl::StrCat(type, s.unit.empty() ? "" : ", ", s.unit, ", ", s.min, "..", s.max);
  };
  switch (s.type) {
    case HostSettingType::kString:
      return s.required ? "string, required" : "string";
    case HostSettingType::kBool:
      return "bool";
    case HostSettingType::kInt:
      return range("int");
    case HostSettingType::kNumber:
      return range("number");
    case HostSettingType::kEnum:
      return absl::StrCat("`", absl::StrJoin(EnumValues(s), "`, `"), "`");
    case HostSettingType::kPosition:
      return "`latest`, `earliest` or a position (`C`, `C/P`, `C:P`)";
  }
  return "";
}

std::string Section(const std::string& doc, const std::string& heading) {
  size_t at = doc.find("\n" + heading + "\n");
  if (at == std::string::npos) return "";
  size_t end = doc.find("\n#", at + heading.size() + 2);
  return doc.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// docs/operations.md lists exactly the table's keys, in its order, with its types and defaults,
// and names every key it accepts and ignores.
TEST(HostSettingsTest, OperationsGuideAgreesWithTheTable) {
  std::ifstream in(std::string(ESDB_SOURCE_DIR) + "/docs/operations.md");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();

  const std::string keys = Section(doc, "### Host keys");
  ASSERT_FALSE(keys.empty()) << "no '### Host keys' section";
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(keys, '\n')) {
    if (!absl::StartsWith(line, "| `")) continue;
    // | key | type | default | meaning |: the meaning may hold '|' itself.
    std::vector<std::string> cells = absl::StrSplit(
        absl::StripSuffix(absl::StripPrefix(absl::StripAsciiWhitespace(line), "|"), "|"),
        absl::MaxSplits('|', 3));
    for (std::string& cell : cells) cell = std::string(absl::StripAsciiWhitespace(cell));
    rows.push_back(std::move(cells));
  }
  std::vector<const HostSetting*> documented;
  for (const HostSetting& s : HostSettings()) {
    if (!s.ignored) documented.push_back(&s);
  }
  ASSERT_EQ(rows.size(), documented.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const HostSetting& s = *documented[i];
    ASSERT_EQ(rows[i].size(), 4u) << absl::StrJoin(rows[i], " | ");
    EXPECT_EQ(rows[i][0], absl::StrCat("`", s.name, "`"));
    EXPECT_EQ(rows[i][1], DocType(s)) << s.name;
    EXPECT_EQ(rows[i][2], s.default_value.empty() ? "" : absl::StrCat("`", s.default_value, "`"))
        << s.name;
    EXPECT_FALSE(rows[i][3].empty()) << s.name;
  }

  const std::string ignored = Section(doc, "### Product keys that are accepted and ignored");
  ASSERT_FALSE(ignored.empty());
  for (const HostSetting& s : HostSettings()) {
    if (s.ignored) EXPECT_THAT(ignored, HasSubstr(absl::StrCat("`", s.name, "`")));
  }
}

}  // namespace
}  // namespace esdb
