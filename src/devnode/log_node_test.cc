// The log node's append, read, metadata, membership and fault-injection contracts, run against
// both stores.
#include "devnode/log_node.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devnode/log_node_test_util.h"
#include "devnode/node_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

namespace esdb::devnode {
namespace {

using testing::AppendN;
using testing::Backend;
using testing::CAppend;
using testing::CRead;
using ::testing::ElementsAre;
using testing::Event;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Positions;
using testing::Revisions;
using ::testing::SizeIs;

class LogNodeTest : public testing::LogNodeFixture {};

TEST_P(LogNodeTest, ApiTableIsComplete) {
  const esdb_node_api* t = api();
  EXPECT_EQ(t->struct_size, sizeof(esdb_node_api));
  EXPECT_EQ(t->abi_version, ESDB_NODE_ABI_VERSION);
  EXPECT_NE(t->node_version, nullptr);
  EXPECT_NE(t->append, nullptr);
  EXPECT_NE(t->read_stream, nullptr);
  EXPECT_NE(t->subscribe_all, nullptr);
  EXPECT_NE(t->unsubscribe_all, nullptr);
  EXPECT_NE(t->last_position, nullptr);
  EXPECT_NE(t->get_stream_metadata, nullptr);
  EXPECT_NE(t->set_stream_metadata, nullptr);
  EXPECT_NE(t->get_members, nullptr);
  EXPECT_NE(t->watch_members, nullptr);
  EXPECT_NE(t->unwatch_members, nullptr);
  EXPECT_NE(t->log, nullptr);
}

TEST_P(LogNodeTest, PositionsStartAtOneAndIncreaseAcrossStreams) {
  esdb_position empty{7, 7};
  char err[64];
  ASSERT_EQ(api()->last_position(api()->ctx, &empty, err, sizeof(err)), ESDB_NODE_OK);
  EXPECT_EQ(empty.commit, 0u);

  auto a = CAppend(api(), "a", ESDB_EXPECT_ANY, {Event("x"), Event("y")});
  ASSERT_EQ(a.status, ESDB_NODE_OK) << a.err;
  EXPECT_EQ(a.result.next_expected_revision, 1u);
  EXPECT_EQ(a.result.position.commit, 2u);
  EXPECT_EQ(a.result.position.prepare, 2u);
  auto b = CAppend(api(), "b", ESDB_EXPECT_ANY, {Event("z")});
  ASSERT_EQ(b.status, ESDB_NODE_OK) << b.err;
  EXPECT_EQ(b.result.next_expected_revision, 0u);
  EXPECT_EQ(b.result.position.commit, 3u);

  esdb_position last{};
  ASSERT_EQ(api()->last_position(api()->ctx, &last, err, sizeof(err)), ESDB_NODE_OK);
  EXPECT_EQ(last.commit, 3u);
  EXPECT_EQ(last.prepare, 3u);
  EXPECT_EQ(node_->LastPosition(), 3u);

  auto all = node_->ReadAll(ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Positions(*all), ElementsAre(1, 2, 3));
  EXPECT_EQ((*all)[0].stream, "a");
  EXPECT_EQ((*all)[2].stream, "b");
  EXPECT_EQ((*all)[2].revision, 0u);
  auto backwards = node_->ReadAll(ReadDirection::kBackwards, UINT64_MAX, 2);
  ASSERT_TRUE(backwards.ok());
  EXPECT_THAT(Positions(*backwards), ElementsAre(3, 2));
}

// A read of $all stops after the event that brings it to its bytes, in either direction, and
// always carries one event (a catch-up or a gRPC read of large events fetches a few MiB at once).
TEST_P(LogNodeTest, ReadAllStopsAtItsBytesAfterOneEventAtLeast) {
  const std::string data = absl::StrCat(R"({"pad":")", std::string(100 << 10, 'x'), R"("})");
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(CAppend(api(), "big", ESDB_EXPECT_ANY, {Event("Big", data)}).status, ESDB_NODE_OK);
  }
  auto forwards = node_->ReadAll(ReadDirection::kForwards, 0, 100, 250 << 10);
  ASSERT_TRUE(forwards.ok()) << forwards.status();
  EXPECT_THAT(Positions(*forwards), ElementsAre(1, 2, 3));
  auto backwards = node_->ReadAll(ReadDirection::kBackwards, UINT64_MAX, 100, 250 << 10);
  ASSERT_TRUE(backwards.ok()) << backwards.status();
  EXPECT_THAT(Positions(*backwards), ElementsAre(10, 9, 8));
  auto one = node_->ReadAll(ReadDirection::kForwards, 5, 100, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(Positions(*one), ElementsAre(5));
  auto all = node_->ReadAll(ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 10u);
}

TEST_P(LogNodeTest, ExpectAny) {
  EXPECT_EQ(CAppend(api(), "s", ESDB_EXPECT_ANY, {Event("x")}).status, ESDB_NODE_OK);
  EXPECT_EQ(CAppend(api(), "s", ESDB_EXPECT_ANY, {Event("x")}).status, ESDB_NODE_OK);
  EXPECT_EQ(node_->LastPosition(), 2u);
}

TEST_P(LogNodeTest, ExpectNoStream) {
  auto first = CAppend(api(), "s", ESDB_EXPECT_NO_STREAM, {Event("x")});
  EXPECT_EQ(first.status, ESDB_NODE_OK) << first.err;
  auto second = CAppend(api(), "s", ESDB_EXPECT_NO_STREAM, {Event("x")});
  EXPECT_EQ(second.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(second.result.actual_revision, 0);
  EXPECT_THAT(second.err, HasSubstr("wrong expected version"));
  EXPECT_EQ(node_->LastPosition(), 1u);
}

TEST_P(LogNodeTest, ExpectStreamExists) {
  auto missing = CAppend(api(), "s", ESDB_EXPECT_STREAM_EXISTS, {Event("x")});
  EXPECT_EQ(missing.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(missing.result.actual_revision, -1);
  EXPECT_EQ(node_->LastPosition(), 0u);
  AppendN(*node_, "s", 2);
  auto existing = CAppend(api(), "s", ESDB_EXPECT_STREAM_EXISTS, {Event("x")});
  EXPECT_EQ(existing.status, ESDB_NODE_OK) << existing.err;
  EXPECT_EQ(existing.result.next_expected_revision, 2u);
}

TEST_P(LogNodeTest, ExpectExactRevision) {
  auto on_missing = CAppend(api(), "s", 0, {Event("x")});
  EXPECT_EQ(on_missing.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(on_missing.result.actual_revision, -1);

  AppendN(*node_, "s", 3);  // revisions 0..2
  auto stale = CAppend(api(), "s", 1, {Event("x")});
  EXPECT_EQ(stale.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(stale.result.actual_revision, 2);
  auto ahead = CAppend(api(), "s", 5, {Event("x")});
  EXPECT_EQ(ahead.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(ahead.result.actual_revision, 2);
  EXPECT_EQ(node_->LastPosition(), 3u);

  auto right = CAppend(api(), "s", 2, {Event("x"), Event("y")});
  ASSERT_EQ(right.status, ESDB_NODE_OK) << right.err;
  EXPECT_EQ(right.result.next_expected_revision, 4u);
  EXPECT_EQ(right.result.position.commit, 5u);
}

TEST_P(LogNodeTest, CppAppendReportsActualRevisionOfConflict) {
  AppendN(*node_, "s", 2);
  absl::StatusOr<AppendResult> result = node_->Append("s", 7, {Event("x")});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ToNodeStatus(result.status()), ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(ActualRevision(result.status()), 1);
}

TEST_P(LogNodeTest, UnknownExpectationIsInvalid) {
  auto result = CAppend(api(), "s", -3, {Event("x")});
  EXPECT_EQ(result.status, ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_EQ(node_->LastPosition(), 0u);
}

TEST_P(LogNodeTest, ZeroEventsWithMetExpectationIsOkAndWritesNothing) {
  auto on_missing = CAppend(api(), "s", ESDB_EXPECT_NO_STREAM, {});
  ASSERT_EQ(on_missing.status, ESDB_NODE_OK) << on_missing.err;
  EXPECT_EQ(on_missing.result.next_expected_revision, kNoRevision);
  EXPECT_EQ(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 10).status, ESDB_NODE_STREAM_NOT_FOUND);

  AppendN(*node_, "other", 1);
  AppendN(*node_, "s", 2);  // positions 2, 3
  auto on_existing = CAppend(api(), "s", 1, {});
  ASSERT_EQ(on_existing.status, ESDB_NODE_OK) << on_existing.err;
  EXPECT_EQ(on_existing.result.next_expected_revision, 1u);
  EXPECT_EQ(on_existing.result.position.commit, 3u);
  EXPECT_EQ(node_->LastPosition(), 3u);

  auto unmet = CAppend(api(), "s", ESDB_EXPECT_NO_STREAM, {});
  EXPECT_EQ(unmet.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(unmet.result.actual_revision, 1);
}

TEST_P(LogNodeTest, InvalidAppendsWriteNothing) {
  EXPECT_EQ(CAppend(api(), "", ESDB_EXPECT_ANY, {Event("x")}).status, ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_EQ(CAppend(api(), nullptr, ESDB_EXPECT_ANY, {Event("x")}).status,
            ESDB_NODE_INVALID_ARGUMENT);
  auto no_type = CAppend(api(), "s", ESDB_EXPECT_ANY, {Event("x"), Event("")});
  EXPECT_EQ(no_type.status, ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_THAT(no_type.err, HasSubstr("event type"));
  auto bad_id = CAppend(api(), "s", ESDB_EXPECT_ANY, {Event("x", "{}", "not-a-uuid")});
  EXPECT_EQ(bad_id.status, ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_THAT(bad_id.err, HasSubstr("not-a-uuid"));

  esdb_event_data broken{};
  broken.struct_size = sizeof(broken);
  broken.event_type = "x";
  broken.data = nullptr;
  broken.data_size = 4;
  const esdb_event_data* events[] = {&broken};
  char err[128];
  EXPECT_EQ(api()->append(api()->ctx, "s", ESDB_EXPECT_ANY, events, 1, nullptr, err, sizeof(err)),
            ESDB_NODE_INVALID_ARGUMENT);
  EXPECT_EQ(node_->LastPosition(), 0u);
}

TEST_P(LogNodeTest, StoresGivenEventIdsLowerCaseAndMakesV4Ones) {
  auto given =
      CAppend(api(), "s", ESDB_EXPECT_ANY,
              {Event("x", "{}", "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"), Event("y"), Event("z")});
  ASSERT_EQ(given.status, ESDB_NODE_OK) << given.err;
  auto read = CRead(api(), "s", ESDB_READ_FORWARDS, 0, 10);
  ASSERT_EQ(read.status, ESDB_NODE_OK);
  ASSERT_THAT(read.events, SizeIs(3));
  EXPECT_EQ(read.events[0].event_id, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
  EXPECT_NE(read.events[1].event_id, read.events[2].event_id);
  for (int i : {1, 2}) {
    const std::string& id = read.events[i].event_id;
    ASSERT_THAT(id, SizeIs(36));
    EXPECT_EQ(id[14], '4') << id;                                          // version 4
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
  }
}

TEST_P(LogNodeTest, RecordsEveryField) {
  const int64_t before = absl::ToUnixMicros(absl::Now());
  AppendEvent event = Event("Binary", std::string("\0\x01\xff", 3));
  event.content_type = "application/octet-stream";
  event.metadata = R"({"m":1})";
  ASSERT_TRUE(node_->Append("s", ESDB_EXPECT_ANY, {event}).ok());
  const int64_t after = absl::ToUnixMicros(absl::Now());

  auto read = CRead(api(), "s", ESDB_READ_FORWARDS, 0, 1);
  ASSERT_EQ(read.status, ESDB_NODE_OK) << read.err;
  ASSERT_THAT(read.events, SizeIs(1));
  const RecordedEvent& e = read.events[0];
  EXPECT_EQ(e.stream, "s");
  EXPECT_EQ(e.revision, 0u);
  EXPECT_EQ(e.position, 1u);
  EXPECT_EQ(e.event_type, "Binary");
  EXPECT_EQ(e.content_type, "application/octet-stream");
  EXPECT_EQ(e.data, std::string("\0\x01\xff", 3));
  EXPECT_EQ(e.metadata, R"({"m":1})");
  EXPECT_GE(e.created_unix_us, before);
  EXPECT_LE(e.created_unix_us, after);
}

TEST_P(LogNodeTest, ReadsForwardsAndBackwardsWithCounts) {
  AppendN(*node_, "other", 2);
  AppendN(*node_, "s", 10);
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_FORWARDS, 3, 4).events),
              ElementsAre(3, 4, 5, 6));
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_FORWARDS, 8, 100).events), ElementsAre(8, 9));
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_BACKWARDS, ESDB_REVISION_END, 3).events),
              ElementsAre(9, 8, 7));
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_BACKWARDS, 2, 100).events),
              ElementsAre(2, 1, 0));
  EXPECT_THAT(CRead(api(), "s", ESDB_READ_BACKWARDS, 5, 0).events, IsEmpty());
  auto past_end = CRead(api(), "s", ESDB_READ_FORWARDS, 20, 5);
  EXPECT_EQ(past_end.status, ESDB_NODE_OK);
  EXPECT_THAT(past_end.events, IsEmpty());
  // More than one read batch (4) in both directions, and positions follow the $all order.
  auto all = CRead(api(), "s", ESDB_READ_FORWARDS, 0, UINT64_MAX);
  EXPECT_THAT(Revisions(all.events), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_THAT(Positions(all.events), ElementsAre(3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_BACKWARDS, ESDB_REVISION_END, 100).events),
              ElementsAre(9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}

TEST_P(LogNodeTest, ReadStopsWhenTheCallbackSaysSo) {
  AppendN(*node_, "s", 10);
  auto forwards = CRead(api(), "s", ESDB_READ_FORWARDS, 0, 100, /*stop_after=*/2);
  EXPECT_EQ(forwards.status, ESDB_NODE_OK);
  EXPECT_THAT(Revisions(forwards.events), ElementsAre(0, 1));
  auto backwards = CRead(api(), "s", ESDB_READ_BACKWARDS, ESDB_REVISION_END, 100, 5);
  EXPECT_EQ(backwards.status, ESDB_NODE_OK);
  EXPECT_THAT(Revisions(backwards.events), ElementsAre(9, 8, 7, 6, 5));
}

TEST_P(LogNodeTest, MissingStreamIsNotFound) {
  AppendN(*node_, "other", 1);
  for (int32_t direction : {ESDB_READ_FORWARDS, ESDB_READ_BACKWARDS}) {
    auto read = CRead(api(), "missing", direction, 0, 10);
    EXPECT_EQ(read.status, ESDB_NODE_STREAM_NOT_FOUND);
    EXPECT_THAT(read.err, HasSubstr("missing"));
    EXPECT_THAT(read.events, IsEmpty());
  }
  auto cpp = node_->ReadStream("missing", ReadDirection::kForwards, 0, 10);
  EXPECT_EQ(cpp.status().code(), absl::StatusCode::kNotFound);
}

TEST_P(LogNodeTest, ReadCallbackExceptionBecomesError) {
  AppendN(*node_, "s", 1);
  char err[128] = "";
  esdb_node_status status = api()->read_stream(
      api()->ctx, "s", ESDB_READ_FORWARDS, 0, 10,
      [](void*, const esdb_recorded_event*) -> int { throw std::runtime_error("boom"); }, nullptr,
      err, sizeof(err));
  EXPECT_EQ(status, ESDB_NODE_ERROR);
  EXPECT_THAT(std::string(err), HasSubstr("boom"));
}

std::string CGetMetadata(const esdb_node_api* api, const char* stream, esdb_node_status* status) {
  std::string json;
  char err[128];
  *status = api->get_stream_metadata(
      api->ctx, stream,
      [](void* user, const char* text, size_t size) {
        static_cast<std::string*>(user)->assign(text, size);
      },
      &json, err, sizeof(err));
  return json;
}

TEST_P(LogNodeTest, StreamMetadataRoundTrips) {
  esdb_node_status status;
  EXPECT_EQ(CGetMetadata(api(), "s", &status), "{}");
  EXPECT_EQ(status, ESDB_NODE_OK);

  char err[256];
  ASSERT_EQ(api()->set_stream_metadata(api()->ctx, "s", R"({"$maxCount": 10, "custom": [1, 2]})",
                                       err, sizeof(err)),
            ESDB_NODE_OK)
      << err;
  std::string json = CGetMetadata(api(), "s", &status);
  EXPECT_EQ(status, ESDB_NODE_OK);
  EXPECT_EQ(nlohmann::json::parse(json),
            nlohmann::json::parse(R"({"$maxCount":10,"custom":[1,2]})"));

  // Metadata alone does not make the stream exist.
  EXPECT_EQ(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 10).status, ESDB_NODE_STREAM_NOT_FOUND);
  EXPECT_EQ(CAppend(api(), "s", ESDB_EXPECT_NO_STREAM, {Event("x")}).status, ESDB_NODE_OK);
  EXPECT_EQ(nlohmann::json::parse(CGetMetadata(api(), "s", &status))["custom"],
            nlohmann::json::parse("[1,2]"));

  ASSERT_EQ(api()->set_stream_metadata(api()->ctx, "s", "{}", err, sizeof(err)), ESDB_NODE_OK);
  EXPECT_EQ(CGetMetadata(api(), "s", &status), "{}");
}

TEST_P(LogNodeTest, RejectsBadMetadata) {
  char err[256];
  for (const char* bad : {"not json", "[1]", R"({"$maxCount": 0})", R"({"$maxCount": "3"})",
                          R"({"$maxCount": 1.5})"}) {
    EXPECT_EQ(api()->set_stream_metadata(api()->ctx, "s", bad, err, sizeof(err)),
              ESDB_NODE_INVALID_ARGUMENT)
        << bad;
  }
  esdb_node_status status;
  EXPECT_EQ(CGetMetadata(api(), "s", &status), "{}");
}

TEST_P(LogNodeTest, MaxCountLimitsStreamReadsButNotAll) {
  AppendN(*node_, "s", 10);
  ASSERT_TRUE(node_->SetStreamMetadata("s", R"({"$maxCount": 3})").ok());
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 100).events),
              ElementsAre(7, 8, 9));
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_BACKWARDS, ESDB_REVISION_END, 100).events),
              ElementsAre(9, 8, 7));
  EXPECT_THAT(CRead(api(), "s", ESDB_READ_BACKWARDS, 5, 100).events, IsEmpty());
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_FORWARDS, 8, 100).events), ElementsAre(8, 9));

  AppendN(*node_, "s", 2);
  EXPECT_THAT(Revisions(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 100).events),
              ElementsAre(9, 10, 11));
  auto all = node_->ReadAll(ReadDirection::kForwards, 0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, SizeIs(12));

  ASSERT_TRUE(node_->SetStreamMetadata("s", R"({"$maxCount": 50})").ok());
  EXPECT_THAT(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 100).events, SizeIs(12));
}

TEST_P(LogNodeTest, AppendBatchIsAllOrNothing) {
  AppendN(*node_, "b", 1);
  std::vector<StreamEvents> batch;
  batch.push_back(StreamEvents{"a", ESDB_EXPECT_NO_STREAM, {Event("x"), Event("y")}});
  batch.push_back(StreamEvents{"b", 0, {Event("z")}});
  batch.push_back(StreamEvents{"a", 1, {Event("w")}});  // sees the first entry's events
  auto results = node_->AppendBatch(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_THAT(*results, SizeIs(3));
  EXPECT_EQ((*results)[0].next_expected_revision, 1u);
  EXPECT_EQ((*results)[0].position, 3u);
  EXPECT_EQ((*results)[1].position, 4u);
  EXPECT_EQ((*results)[2].next_expected_revision, 2u);
  EXPECT_EQ((*results)[2].position, 5u);

  std::vector<StreamEvents> conflicting;
  conflicting.push_back(StreamEvents{"c", ESDB_EXPECT_ANY, {Event("x")}});
  conflicting.push_back(StreamEvents{"a", 0, {Event("x")}});
  auto failed = node_->AppendBatch(conflicting);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(ActualRevision(failed.status()), 2);
  EXPECT_EQ(node_->LastPosition(), 5u);
  EXPECT_EQ(CRead(api(), "c", ESDB_READ_FORWARDS, 0, 10).status, ESDB_NODE_STREAM_NOT_FOUND);
}

TEST_P(LogNodeTest, FailNextAppendsFailsExactlyThatManyAppends) {
  node_->FailNextAppends("$connectors/", ESDB_NODE_NOT_LEADER, 2);
  EXPECT_EQ(CAppend(api(), "other", ESDB_EXPECT_ANY, {Event("x")}).status, ESDB_NODE_OK);
  for (int i = 0; i < 2; ++i) {
    auto failed = CAppend(api(), "$connectors/a", ESDB_EXPECT_ANY, {Event("x")});
    EXPECT_EQ(failed.status, ESDB_NODE_NOT_LEADER);
    EXPECT_THAT(failed.err, HasSubstr("injected"));
  }
  EXPECT_EQ(node_->LastPosition(), 1u);
  EXPECT_EQ(CAppend(api(), "$connectors/a", ESDB_EXPECT_ANY, {Event("x")}).status, ESDB_NODE_OK);
  EXPECT_EQ(node_->LastPosition(), 2u);
}

TEST_P(LogNodeTest, InjectedConflictReportsTheRealRevision) {
  AppendN(*node_, "$connectors/a", 3);
  node_->FailNextAppends("$connectors/", ESDB_NODE_WRONG_EXPECTED_VERSION, 1);
  auto failed = CAppend(api(), "$connectors/a", 2, {Event("x")});
  EXPECT_EQ(failed.status, ESDB_NODE_WRONG_EXPECTED_VERSION);
  EXPECT_EQ(failed.result.actual_revision, 2);
  // Cancelled rules no longer fire.
  node_->FailNextAppends("$connectors/", ESDB_NODE_UNAVAILABLE, 5);
  node_->FailNextAppends("$connectors/", ESDB_NODE_UNAVAILABLE, 0);
  EXPECT_EQ(CAppend(api(), "$connectors/a", 2, {Event("x")}).status, ESDB_NODE_OK);
}

struct MembersSeen {
  std::vector<NodeMember> members;
  std::string self;
};

MembersSeen CGetMembers(const esdb_node_api* api) {
  MembersSeen seen;
  char err[128];
  esdb_node_status status = api->get_members(
      api->ctx,
      [](void* user, const esdb_member* const* members, size_t count, const char* self_id) {
        auto* out = static_cast<MembersSeen*>(user);
        for (size_t i = 0; i < count; ++i) {
          out->members.push_back(NodeMember{members[i]->member_id, members[i]->role,
                                            members[i]->alive != 0, members[i]->http_endpoint});
        }
        out->self = self_id;
      },
      &seen, err, sizeof(err));
  EXPECT_EQ(status, ESDB_NODE_OK) << err;
  return seen;
}

TEST_P(LogNodeTest, SingleMemberIsAliveLeaderSelf) {
  MembersSeen seen = CGetMembers(api());
  EXPECT_EQ(seen.self, "devnode");
  ASSERT_THAT(seen.members, SizeIs(1));
  EXPECT_EQ(seen.members[0].member_id, "devnode");
  EXPECT_EQ(seen.members[0].role, ESDB_ROLE_LEADER);
  EXPECT_TRUE(seen.members[0].alive);
  EXPECT_EQ(seen.members[0].http_endpoint, "127.0.0.1:2113");
}

TEST_P(LogNodeTest, SetMembersFiresWatchersUntilUnwatched) {
  struct Watcher {
    const esdb_node_api* api;
    int calls = 0;
    std::vector<std::string> seen_ids;  // members visible from inside the callback
  } watcher{api()};
  esdb_watch* watch = nullptr;
  char err[128];
  ASSERT_EQ(api()->watch_members(
                api()->ctx,
                [](void* user) {
                  auto* w = static_cast<Watcher*>(user);
                  ++w->calls;
                  for (const NodeMember& m : CGetMembers(w->api).members) {
                    w->seen_ids.push_back(m.member_id);
                  }
                },
                &watcher, &watch, err, sizeof(err)),
            ESDB_NODE_OK)
      << err;
  ASSERT_NE(watch, nullptr);

  node_->SetMembers({NodeMember{"devnode", ESDB_ROLE_FOLLOWER, true, ""},
                     NodeMember{"n2", ESDB_ROLE_LEADER, true, "10.0.0.2:2113"}});
  EXPECT_EQ(watcher.calls, 1);
  EXPECT_THAT(watcher.seen_ids, ElementsAre("devnode", "n2"));
  MembersSeen now = CGetMembers(api());
  ASSERT_THAT(now.members, SizeIs(2));
  EXPECT_EQ(now.members[0].role, ESDB_ROLE_FOLLOWER);

  api()->unwatch_members(api()->ctx, watch);
  node_->SetMembers({NodeMember{"devnode", ESDB_ROLE_LEADER, true, ""}});
  EXPECT_EQ(watcher.calls, 1);
}

TEST_P(LogNodeTest, ApiForMemberReportsAnotherSelf) {
  const esdb_node_api* other = node_->ApiForMember("host-b");
  EXPECT_NE(other, api());
  EXPECT_EQ(node_->ApiForMember("host-b"), other);
  EXPECT_EQ(CGetMembers(other).self, "host-b");
  EXPECT_EQ(CGetMembers(api()).self, "devnode");
  // Same log behind both tables.
  EXPECT_EQ(CAppend(other, "s", ESDB_EXPECT_ANY, {Event("x")}).status, ESDB_NODE_OK);
  EXPECT_EQ(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 10).events.size(), 1u);
}

TEST_P(LogNodeTest, LogGoesToSpdlog) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(8);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::debug);
  api()->log(api()->ctx, ESDB_LOG_WARN, "hello from the library");
  api()->log(api()->ctx, ESDB_LOG_DEBUG, nullptr);
  std::vector<std::string> lines = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[0], HasSubstr("hello from the library"));
  EXPECT_THAT(lines[0], HasSubstr("warn"));
}

TEST_P(LogNodeTest, EverythingIsUnavailableAfterShutdown) {
  AppendN(*node_, "s", 1);
  node_->Shutdown();
  node_->Shutdown();  // idempotent
  auto append = CAppend(api(), "s", ESDB_EXPECT_ANY, {Event("x")});
  EXPECT_EQ(append.status, ESDB_NODE_UNAVAILABLE);
  EXPECT_EQ(CRead(api(), "s", ESDB_READ_FORWARDS, 0, 10).status, ESDB_NODE_UNAVAILABLE);
  EXPECT_EQ(node_->SetStreamMetadata("s", "{}").code(), absl::StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Stores, LogNodeTest, ::testing::Values(Backend::kMemory, Backend::kSqlite),
                         testing::BackendName);

}  // namespace
}  // namespace esdb::devnode
