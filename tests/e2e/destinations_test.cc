// Where sinks may write and connect is the host's policy: file paths resolve under
// --sink-files-root (here the test's scratch folder), destinations against --sink-allowed-hosts.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"

namespace esdb::e2e {
namespace {

using ::testing::HasSubstr;

class DestinationsTest : public DevnodeTest {
 protected:
  Reply CreateFileSink(const std::string& id, const std::string& path) {
    nlohmann::json settings = {{"instanceTypeName", "file-sink"},
                               {"path", path},
                               {"subscription:initialPosition", "earliest"}};
    return http().Post("/connectors/" + id, nlohmann::json{{"settings", settings}}.dump());
  }
};

TEST_F(DestinationsTest, FilePathsMustResolveUnderTheRoot) {
  const std::filesystem::path root = Path("");  // the node's --sink-files-root
  std::filesystem::create_symlink("/etc", Path("etc-link"));
  for (const std::string& outside :
       {std::string("/etc/passwd"), std::string("../outside.jsonl"),
        (root / "sub/../../outside.jsonl").string(), std::string("etc-link/passwd")}) {
    Reply r = CreateFileSink("f", outside);
    EXPECT_EQ(r.status, 400) << outside << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("outside the sink file root")) << outside;
  }
  EXPECT_EQ(http().Connector("f").status, 404);
  // A relative path lands in the root of the host that runs the connector.
  Reply ok = CreateFileSink("f", "out.jsonl");
  ASSERT_EQ(ok.status, 201) << ok.body;
  ASSERT_EQ(http().Post("/connectors/f/enable").status, 200);
  ASSERT_EQ(AppendEvents(http(), "s-1", MakeEvents(1, 0, 1)).status, 201);
  EXPECT_TRUE(WaitForLines(root / "out.jsonl", 1));
}

TEST_F(DestinationsTest, DestinationsOutsideTheAllowListAreRefused) {
  StopNode();
  NodeOptions options;
  options.data_dir = Path("strict");
  options.extra_args = {"--sink-allowed-hosts", "hooks.internal:8443, 10.0.0.0/8"};
  node_ = std::make_unique<NodeProcess>(options);
  StartNode();
  auto create = [&](const std::string& url) {
    nlohmann::json settings = {{"instanceTypeName", "http-sink"}, {"url", url}};
    return http().Post("/connectors/h", nlohmann::json{{"settings", settings}}.dump());
  };
  for (const char* url : {"http://127.0.0.1:9/x", "https://hooks.internal/x",
                          "https://evil.example:8443/x"}) {
    Reply r = create(url);
    EXPECT_EQ(r.status, 400) << url << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr("--sink-allowed-hosts")) << url;
  }
  EXPECT_EQ(create("https://hooks.internal:8443/x").status, 201);
  EXPECT_EQ(http().Delete("/connectors/h").status, 200);
  EXPECT_EQ(create("http://10.1.2.3/x").status, 201);
  // After a restart the node knows its HTTP port: a sink may never send to it.
  StopNode();
  StartNode();
  EXPECT_EQ(http().Delete("/connectors/h").status, 200);
  Reply self = create(absl::StrCat("http://127.0.0.1:", node().port(), "/connectors"));
  EXPECT_EQ(self.status, 400) << self.body;
  EXPECT_THAT(self.body, HasSubstr("this host's own port"));
}

}  // namespace
}  // namespace esdb::e2e
