// The dev node's /streams routes over an in-memory log: stream names may hold '/', so the
// library's checkpoint and dead-letter streams can be read by any client.
#include "devnode/streams_http.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace esdb::devnode {
namespace {

using nlohmann::json;

http::Request Get(const std::string& path, const std::string& query = "") {
  http::Request r;
  r.method = "GET";
  r.path = path;  // as the server hands it over: percent-decoded
  r.query = query;
  return r;
}

TEST(StreamsHttpTest, StreamNamesWithSlashesAreReadAndWritten) {
  std::unique_ptr<LogNode> node = LogNode::InMemory();
  AppendEvent e;
  e.event_type = "ConnectorCheckpoint";
  e.data = R"({"position":{"commit":1,"prepare":1}})";
  e.content_type = "application/json";
  ASSERT_TRUE(node->Append("$connectors/c1/checkpoints", ESDB_EXPECT_ANY, {e}).ok());

  http::Response r = HandleNodeRoute(*node, Get("/streams/$connectors/c1/checkpoints"), nullptr);
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["streamId"], "$connectors/c1/checkpoints");
  ASSERT_EQ(body["events"].size(), 1u);
  EXPECT_EQ(body["events"][0]["eventType"], "ConnectorCheckpoint");

  http::Request post;
  post.method = "POST";
  post.path = "/streams/a/b";
  post.headers = {{"Content-Type", "application/json"}, {"ES-EventType", "Thing"}};
  post.body = "{}";
  ASSERT_EQ(HandleNodeRoute(*node, post, nullptr).status, 201);
  json read = json::parse(HandleNodeRoute(*node, Get("/streams/a/b"), nullptr).body);
  EXPECT_EQ(read["events"][0]["streamId"], "a/b");
  // A stream that does not exist, with or without a slash, is a 404 of its own kind.
  EXPECT_EQ(HandleNodeRoute(*node, Get("/streams/a/0"), nullptr).status, 404);
}

TEST(StreamsHttpTest, TheLibrarysStreamsStayForAdminsWhateverTheirNames) {
  http::Request r = Get("/streams/$connectors/c1/dead-letters");
  r.principal.kind = http::Principal::Kind::kUser;
  r.principal.name = "reader";
  auto refused = RefuseNodeRoute(r);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 403);
  r.principal.roles = {"$admins"};
  EXPECT_FALSE(RefuseNodeRoute(r).has_value());
}

}  // namespace
}  // namespace esdb::devnode
