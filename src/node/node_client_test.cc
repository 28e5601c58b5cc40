// NodeClient's own behaviour, apart from the calls it forwards to the node's table.
#include "node/node_client.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace esdb {
namespace {

// A node table with only the log function (the other functions are never called here).
struct LoggingNode {
  std::vector<std::string> lines;
  esdb_node_api api{};
  LoggingNode() {
    api.struct_size = sizeof api;
    api.ctx = this;
    api.log = [](void* ctx, int32_t, const char* message) {
      static_cast<LoggingNode*>(ctx)->lines.emplace_back(message);
    };
  }
};

TEST(NodeClientTest, ALogMessageStaysOneLineWhateverItQuotes) {
  LoggingNode node;
  NodeClient client(&node.api);
  client.Log(ESDB_LOG_WARN, "record refused (stream orders)");
  client.Log(ESDB_LOG_WARN, std::string("record refused (stream a\n[error] forged\0cut)", 44));
  ASSERT_EQ(node.lines.size(), 2u);
  EXPECT_EQ(node.lines[0], "record refused (stream orders)") << "as it was, when nothing to escape";
  EXPECT_EQ(node.lines[1], "record refused (stream a\\n[error] forged\\x00cut)");
}

}  // namespace
}  // namespace esdb
