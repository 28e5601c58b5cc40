#include "delivery/dead_letters.h"

#include <set>

#include "connector/connector.h"
#include "devnode/log_node.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {

Record Sample() {
  Record r;
  r.stream = "orders-1";
  r.revision = 4;
  r.position = {900, 899};
  r.event_id = "0c7d2f4e-1b2a-4c3d-9e8f-102030405060";
  r.event_type = "OrderPlaced";
  r.content_type = "application/octet-stream";
  r.data = std::string("\x00\xff bytes", 8);
  r.metadata = R"({"correlation":"x"})";
  r.created_unix_us = 1234567;
  return r;
}

DeadLetterContext Context() { return {"c1", 2, 7, "h1", "400 Bad Request", 1, 5555}; }

// Reads a dead letter back as the node stores it.
Record Stored(const EventData& e, uint64_t revision) {
  Record r;
  r.revision = revision;
  r.event_id = e.event_id;
  r.event_type = e.event_type;
  r.content_type = e.content_type;
  r.data = e.data;
  r.metadata = e.metadata;
  return r;
}

TEST(DeadLettersTest, EventIdsAreDeterministicUuidsThatDifferByEveryPart) {
  std::string id = DeadLetterEventId("c1", 0, 3, {10, 10});
  EXPECT_EQ(id, DeadLetterEventId("c1", 0, 3, {10, 10}));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '8');  // version 8
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
  std::set<std::string> ids = {id,
                               DeadLetterEventId("c2", 0, 3, {10, 10}),
                               DeadLetterEventId("c1", 1, 3, {10, 10}),
                               DeadLetterEventId("c1", 0, 4, {10, 10}),
                               DeadLetterEventId("c1", 0, 3, {11, 10}),
                               DeadLetterEventId("c1", 0, 3, {10, 11}),
                               DeadLetterEventId("c", 10, 3, {10, 10})};
  EXPECT_EQ(ids.size(), 7u);
}

TEST(DeadLettersTest, ADeadLetterKeepsTheRecordAndItsContext) {
  EventData e = MakeDeadLetter(Sample(), Context());
  EXPECT_EQ(e.event_id, DeadLetterEventId("c1", 2, 7, {900, 899}));
  EXPECT_EQ(e.event_type, "OrderPlaced");
  EXPECT_EQ(e.content_type, "application/octet-stream");
  EXPECT_EQ(e.data, Sample().data);
  auto meta = nlohmann::json::parse(e.metadata);
  EXPECT_EQ(meta["deadLetter"]["stream"], "orders-1");
  EXPECT_EQ(meta["deadLetter"]["error"], "400 Bad Request");
  EXPECT_EQ(meta["metadata"], R"({"correlation":"x"})");

  auto back = ParseDeadLetter(Stored(e, 3));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->revision, 3u);
  const Record& r = back->record;
  EXPECT_EQ(r.stream, "orders-1");
  EXPECT_EQ(r.revision, 4u);
  EXPECT_EQ(r.position, (Position{900, 899}));
  EXPECT_EQ(r.event_id, Sample().event_id);
  EXPECT_EQ(r.event_type, "OrderPlaced");
  EXPECT_EQ(r.data, Sample().data);
  EXPECT_EQ(r.metadata, Sample().metadata);
  EXPECT_EQ(r.created_unix_us, 1234567);
  EXPECT_EQ(back->context.connector_id, "c1");
  EXPECT_EQ(back->context.generation, 2);
  EXPECT_EQ(back->context.epoch, 7);
  EXPECT_EQ(back->context.attempts, 1);
  EXPECT_EQ(back->context.at_us, 5555);
}

TEST(DeadLettersTest, MetadataThatIsNotUtf8SurvivesAsBase64) {
  Record r = Sample();
  r.metadata = std::string("\xc3\x28\x00", 3);
  auto back = ParseDeadLetter(Stored(MakeDeadLetter(r, Context()), 0));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->record.metadata, r.metadata);
}

TEST(DeadLettersTest, OtherEventsAreNotDeadLetters) {
  Record plain;
  plain.event_type = "OrderPlaced";
  plain.metadata = R"({"deadLetter":"no"})";
  EXPECT_FALSE(ParseDeadLetter(plain).has_value());
  plain.metadata = "not json";
  EXPECT_FALSE(ParseDeadLetter(plain).has_value());
  Record marker = Stored(MakeReplayOutcome({"c1", 0, 5, 2, true, ""}, "h"), 9);
  EXPECT_FALSE(ParseDeadLetter(marker).has_value());
  auto o = ParseReplayOutcome(marker);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->request, 5);
  EXPECT_EQ(o->revision, 2u);
  EXPECT_TRUE(o->delivered);
}

class DeadLetterStreamTest : public ::testing::Test {
 protected:
  EventData Letter(const std::string& connector, uint64_t commit, int64_t generation = 0) {
    Record r = Sample();
    r.position = {commit, commit};
    DeadLetterContext c = Context();
    c.connector_id = connector;
    c.generation = generation;
    return MakeDeadLetter(r, c);
  }

  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  NodeClient client_{node_->api()};
};

TEST_F(DeadLetterStreamTest, TheWriterAppendsEachDeadLetterOnce) {
  DeadLetterWriter writer(&client_, "dl");
  auto first = writer.Append(Letter("c1", 10));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  // Another connector shares the stream in between; the same letter is still recognised.
  ASSERT_TRUE(DeadLetterWriter(&client_, "dl").Append(Letter("c2", 11)).ok());
  auto again = writer.Append(Letter("c1", 10));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto events = client_.ReadStreamEvents("dl", Direction::kForwards, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
}

TEST_F(DeadLetterStreamTest, TheLedgerCountsPendingAndReplayedLettersOfOneConnector) {
  DeadLetterWriter writer(&client_, "dl");
  ASSERT_TRUE(writer.Append(Letter("c1", 10)).ok());     // revision 0
  ASSERT_TRUE(writer.Append(Letter("other", 11)).ok());  // 1: not c1's
  ASSERT_TRUE(writer.Append(Letter("c1", 12)).ok());     // 2
  ASSERT_TRUE(writer.Append(Letter("c1", 13, 1)).ok());  // 3: another generation
  ASSERT_TRUE(writer.Append(Letter("c1", 14)).ok());     // 4
  EventData delivered = MakeReplayOutcome({"c1", 0, 8, 0, true, ""}, "h");
  EventData refused = MakeReplayOutcome({"c1", 0, 8, 2, false, "400"}, "h");
  EventData others = MakeReplayOutcome({"other", 0, 8, 4, true, ""}, "h");
  for (const EventData* e : {&delivered, &refused, &others}) {
    ASSERT_TRUE(client_.Append("dl", ESDB_EXPECT_ANY, std::span<const EventData>(e, 1)).ok());
  }
  auto ledger = ReadDeadLetters(client_, "dl", "c1", 0, 8);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_EQ(ledger->total, 3);
  EXPECT_EQ(ledger->replayed, 1);
  ASSERT_EQ(ledger->pending.size(), 2u);
  EXPECT_EQ(ledger->pending[0].revision, 2u);
  EXPECT_EQ(ledger->pending[1].revision, 4u);
  EXPECT_EQ(ledger->tried, (std::set<uint64_t>{0, 2}));
  auto later = ReadDeadLetters(client_, "dl", "c1", 0, 9);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->tried.empty());
  auto none = ReadDeadLetters(client_, "missing", "c1", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->total, 0);
}

}  // namespace
}  // namespace esdb
