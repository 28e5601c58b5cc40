// Secret settings on a real dev node: after a connector with secrets has been created, run,
// inspected and restarted, their clear text is nowhere the node puts bytes: not in an HTTP
// response, a metric, a log line, nor anywhere in its SQLite files.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"

namespace esdb::e2e {
namespace {

constexpr char kPassword[] = "pa55-CLEAR-text-9f3c";
constexpr char kApiKey[] = "api-KEY-clear-text-77ab";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SecretsTest : public DevnodeTest {
 protected:
  void ExpectNowhere(const std::string& where, const std::string& bytes) {
    EXPECT_FALSE(absl::StrContains(bytes, kPassword)) << "password in " << where;
    EXPECT_FALSE(absl::StrContains(bytes, kApiKey)) << "api key in " << where;
  }
};

TEST_F(SecretsTest, ClearSecretsAppearNowhereTheNodeWrites) {
  nlohmann::json settings = {
      {"instanceTypeName", "http-sink"},
      {"url", "http://127.0.0.1:9/hooks"},  // nothing listens: the sink fails and retries
      {"authentication:method", "basic"},
      {"authentication:basic:username", "svc"},
      {"authentication:basic:password", kPassword},
      {"defaultHeaders:X-Api-Key", kApiKey},
      {"subscription:initialPosition", "earliest"},
      {"resilience:firstDelayMs", "10"},
      {"resilience:maxDelayMs", "20"}};
  Reply created = http().Post("/connectors/hooks", nlohmann::json{{"settings", settings}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  ExpectNowhere("the create response", created.body);
  ASSERT_EQ(http().Post("/connectors/hooks/enable").status, 200);
  ASSERT_EQ(AppendEvents(http(), "orders-1", MakeEvents(1, 0, 3)).status, 201);
  // Let it try (and fail) to deliver a few times, so its errors reach the log and the state.
  ASSERT_TRUE(WaitUntil(
      [&] { return absl::StrContains(node().Logs(), "connector hooks: write of 3 records failed"); },
      absl::Seconds(30)));
  for (const char* target : {"/connectors/hooks", "/connectors/hooks/settings", "/connectors",
                             "/metrics", "/streams/$connectors"}) {
    Reply r = http().Get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    ExpectNowhere(target, r.body);
  }
  StopNode();  // a clean stop checkpoints the SQLite WAL into the database file
  StartNode();
  ASSERT_EQ(http().Connector("hooks").status, 200);
  StopNode();
  ExpectNowhere("the logs", node().Logs());
  // The secrets are there, sealed: the search below looks where they are kept.
  EXPECT_TRUE(absl::StrContains(ReadFile(node().db_path()), "sealed:v1:"));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Path("node"))) {
    if (entry.is_regular_file()) ExpectNowhere(entry.path().string(), ReadFile(entry.path()));
  }
  StartNode();  // the fixture stops it
}

}  // namespace
}  // namespace esdb::e2e
