// The in-memory dev node every gRPC harness starts from, so that reads find events, deletes find
// streams and appends meet existing revisions, metadata and deleted streams.
#ifndef ESDB_TESTS_FUZZ_DEVNODE_FIXTURE_H_
#define ESDB_TESTS_FUZZ_DEVNODE_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "devnode/log_node.h"
#include "fuzz/fuzz_check.h"

namespace esdb::fuzz {

inline devnode::AppendEvent FixtureEvent(std::string type, std::string data,
                                         std::string content_type = "application/json") {
  devnode::AppendEvent event;
  event.event_type = std::move(type);
  event.data = std::move(data);
  event.content_type = std::move(content_type);
  return event;
}

// A fresh node holding: orders-1 (3 JSON events, $maxCount 2), orders-2 (one binary event with
// metadata), $ce-orders (one event), deleted-1 (soft-deleted) and tombstoned-1 (hard-deleted).
// Deterministic apart from event ids and creation times.
inline std::unique_ptr<devnode::LogNode> FixtureNode() {
  std::unique_ptr<devnode::LogNode> node = devnode::LogNode::InMemory();
  auto append = [&](const std::string& stream, std::vector<devnode::AppendEvent> events) {
    FUZZ_CHECK(node->Append(stream, ESDB_EXPECT_ANY, std::move(events)).ok());
  };
  append("orders-1", {FixtureEvent("OrderPlaced", R"({"id":1})"),
                      FixtureEvent("OrderPaid", R"({"id":1,"amount":12.5})"),
                      FixtureEvent("OrderShipped", R"({"id":1,"to":"x"})")});
  devnode::AppendEvent binary =
      FixtureEvent("Blob", std::string("\0\1\2\xff", 4), "application/octet-stream");
  binary.event_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
  binary.metadata = R"({"$correlationId":"c1"})";
  append("orders-2", {binary});
  append("$ce-orders", {FixtureEvent("$>", "0@orders-1", "text/plain")});
  append("deleted-1", {FixtureEvent("Gone", "{}")});
  FUZZ_CHECK(node->DeleteStream("deleted-1", ESDB_EXPECT_ANY).ok());
  FUZZ_CHECK(node->TombstoneStream("tombstoned-1", ESDB_EXPECT_ANY).ok());
  FUZZ_CHECK(node->SetStreamMetadata("orders-1", R"({"$maxCount":2})").ok());
  return node;
}

}  // namespace esdb::fuzz

#endif  // ESDB_TESTS_FUZZ_DEVNODE_FIXTURE_H_
