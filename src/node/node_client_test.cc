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

// A node table whose reads return one event and whose appends succeed, both at `revision`.
struct RevisionNode {
  uint64_t revision = 0;
  esdb_node_api api{};
  explicit RevisionNode(uint64_t r) : revision(r) {
    api.struct_size = sizeof api;
    api.ctx = this;
    api.read_stream = [](void* ctx, const char* stream, int32_t, uint64_t, uint64_t,
                         esdb_read_event_fn on_event, void* user, char*, size_t) {
      esdb_recorded_event e{};
      e.struct_size = sizeof e;
      e.stream = stream;
      e.revision = static_cast<RevisionNode*>(ctx)->revision;
      e.event_id = "0c7d2f4e-1b2a-4c3d-9e8f-102030405060";
      e.event_type = "T";
      e.content_type = "application/json";
      on_event(user, &e);
      return ESDB_NODE_OK;
    };
    api.append = [](void* ctx, const char*, int64_t, const esdb_event_data* const*, size_t,
                    esdb_append_result* out, char*, size_t) {
      out->next_expected_revision = static_cast<RevisionNode*>(ctx)->revision;
      return ESDB_NODE_OK;
    };
  }
};

// Revisions past 2^63 - 1 are refused: as expected revisions they would read as "no stream" or
// "any", and a checkpoint's fencing would be off.
TEST(NodeClientTest, ARevisionBeyondWhatAStreamCanHaveIsAnError) {
  for (uint64_t revision : {UINT64_MAX, UINT64_MAX - 1, uint64_t{1} << 63}) {
    RevisionNode node(revision);
    NodeClient client(&node.api);
    auto read = client.ReadStreamEvents("s", Direction::kBackwards, ESDB_REVISION_END, 1);
    EXPECT_FALSE(read.ok()) << revision;
    EXPECT_NE(read.status().message().find("beyond the largest"), std::string::npos)
        << read.status();
    std::vector<EventData> one(1);
    one[0].event_type = "T";
    EXPECT_FALSE(client.Append("s", ESDB_EXPECT_ANY, one).ok()) << revision;
  }
  RevisionNode fine((uint64_t{1} << 63) - 1);
  NodeClient client(&fine.api);
  auto read = client.ReadStreamEvents("s", Direction::kBackwards, ESDB_REVISION_END, 1);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->at(0).revision, (uint64_t{1} << 63) - 1);
}

}  // namespace
}  // namespace esdb
