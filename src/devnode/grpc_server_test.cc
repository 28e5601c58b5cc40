// The gRPC services over a real channel to an in-process server: the wire answers official
// clients depend on, and hostile requests (which must get an error status, never a crash).
#include "devnode/grpc_server.h"

#include <memory>
#include <string>

#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gossip.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "serverfeatures.grpc.pb.h"
#include "streams.grpc.pb.h"

namespace esdb::devnode {
namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::BatchAppendReq;
using event_store::client::streams::BatchAppendResp;
using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::Pair;

constexpr uint32_t kMaxAppend = 1000;
constexpr char kId[] = "0f8fad5b-d9cb-469f-a165-70867728950e";

std::string Trailer(const grpc::ClientContext& context, const std::string& key) {
  auto it = context.GetServerTrailingMetadata().find(key);
  if (it == context.GetServerTrailingMetadata().end()) return "<none>";
  return std::string(it->second.data(), it->second.size());
}

AppendReq Options(const std::string& stream) {
  AppendReq req;
  req.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
  req.mutable_options()->mutable_any();
  return req;
}

AppendReq Proposed(const std::string& type, const std::string& data, const std::string& id = kId) {
  AppendReq req;
  auto* m = req.mutable_proposed_message();
  m->mutable_id()->set_string(id);
  if (!type.empty()) (*m->mutable_metadata())["type"] = type;
  (*m->mutable_metadata())["content-type"] = "application/octet-stream";
  m->set_data(data);
  return req;
}

ReadReq StreamRead(const std::string& stream) {
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_stream()->mutable_stream_identifier()->set_stream_name(stream);
  o->mutable_stream()->mutable_start();
  o->set_count(100);
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();
  return req;
}

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = LogNode::InMemory();
    GrpcServerOptions options;
    options.port = 0;
    options.limits.max_append_size = kMaxAppend;
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(node_.get(), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    streams_ = Streams::NewStub(channel_);
  }
  void TearDown() override {
    server_->Stop();
    node_->Shutdown();
  }

  // Sends `requests` on one Append call.
  grpc::Status Append(const std::vector<AppendReq>& requests, AppendResp* resp,
                      grpc::ClientContext* context) {
    auto writer = streams_->Append(context, resp);
    for (const AppendReq& r : requests) {
      if (!writer->Write(r)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // All messages of a Read call and its status.
  grpc::Status Read(const ReadReq& req, std::vector<ReadResp>* out, grpc::ClientContext* context) {
    auto reader = streams_->Read(context, req);
    ReadResp resp;
    while (reader->Read(&resp)) out->push_back(resp);
    return reader->Finish();
  }

  grpc::StatusCode ReadCode(const ReadReq& req) {
    grpc::ClientContext context;
    std::vector<ReadResp> out;
    return Read(req, &out, &context).error_code();
  }

  void ExpectServerAlive() {
    auto features = event_store::client::server_features::ServerFeatures::NewStub(channel_);
    grpc::ClientContext context;
    event_store::client::server_features::SupportedMethods methods;
    EXPECT_TRUE(features->GetSupportedMethods(&context, {}, &methods).ok());
  }

  std::unique_ptr<LogNode> node_;
  std::unique_ptr<GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Streams::Stub> streams_;
};

TEST_F(GrpcServerTest, MalformedReadsAreInvalidArgument) {
  EXPECT_EQ(ReadCode(ReadReq()), grpc::StatusCode::INVALID_ARGUMENT);
  ReadReq no_uuid = StreamRead("s");
  no_uuid.mutable_options()->clear_uuid_option();
  EXPECT_EQ(ReadCode(no_uuid), grpc::StatusCode::INVALID_ARGUMENT);
  ReadReq bad_direction = StreamRead("s");
  bad_direction.mutable_options()->set_read_direction(
      static_cast<ReadReq::Options::ReadDirection>(7));
  EXPECT_EQ(ReadCode(bad_direction), grpc::StatusCode::INVALID_ARGUMENT);
  ReadReq backwards_sub = StreamRead("s");
  backwards_sub.mutable_options()->mutable_subscription();
  backwards_sub.mutable_options()->set_read_direction(ReadReq::Options::Backwards);
  EXPECT_EQ(ReadCode(backwards_sub), grpc::StatusCode::INVALID_ARGUMENT);
  ReadReq filtered_stream = StreamRead("s");
  filtered_stream.mutable_options()->mutable_filter()->mutable_event_type()->set_regex("x");
  EXPECT_EQ(ReadCode(filtered_stream), grpc::StatusCode::INVALID_ARGUMENT);
  ReadReq bad_regex;
  *bad_regex.mutable_options() = StreamRead("s").options();
  bad_regex.mutable_options()->mutable_all()->mutable_start();
  bad_regex.mutable_options()->mutable_filter()->mutable_stream_identifier()->set_regex("([");
  EXPECT_EQ(ReadCode(bad_regex), grpc::StatusCode::INVALID_ARGUMENT);
  ReadReq no_name = StreamRead("");
  EXPECT_EQ(ReadCode(no_name), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectServerAlive();
}

// A one-shot $all read fetches the log a few megabytes at a time (the store's bytes bound:
// LogNodeTest.ReadAllStopsAtItsBytesAfterOneEventAtLeast); a fetch cut short by its bytes is
// not the end of the log.
TEST_F(GrpcServerTest, AReadFetchCutShortByItsBytesIsNotTheEndOfTheLog) {
  const std::string pad(512 << 10, 'x');
  for (int i = 0; i < 20; ++i) {
    auto r =
        node_->Append("big", ESDB_EXPECT_ANY,
                      {AppendEvent{"", "Big", "application/json",
                                   absl::StrCat(R"({"n":)", i, R"(,"pad":")", pad, R"("})"), ""}});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_all()->mutable_start();
  o->set_count(100);
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::vector<ReadResp> out;
  ASSERT_TRUE(Read(req, &out, &context).ok());
  int events = 0;
  for (const ReadResp& r : out) events += r.has_event();
  EXPECT_EQ(events, 20);
}

TEST_F(GrpcServerTest, MissingStreamIsOneStreamNotFoundMessage) {
  grpc::ClientContext context;
  std::vector<ReadResp> out;
  ASSERT_TRUE(Read(StreamRead("nope"), &out, &context).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_not_found().stream_identifier().stream_name(), "nope");
}

TEST_F(GrpcServerTest, AppendThenReadWithStructuredIdsAndCompatibility) {
  AppendResp resp;
  grpc::ClientContext context;
  ASSERT_TRUE(Append({Options("s"), Proposed("t", "abc")}, &resp, &context).ok());
  ASSERT_TRUE(resp.has_success());
  EXPECT_EQ(resp.success().current_revision(), 0u);
  EXPECT_EQ(resp.success().position().commit_position(), 1u);

  ReadReq req = StreamRead("s");
  req.mutable_options()->mutable_uuid_option()->mutable_structured();
  req.mutable_options()->mutable_control_option()->set_compatibility(1);
  grpc::ClientContext read_context;
  std::vector<ReadResp> out;
  ASSERT_TRUE(Read(req, &out, &read_context).ok());
  ASSERT_EQ(out.size(), 2u);
  const auto& e = out[0].event().event();
  EXPECT_EQ(static_cast<uint64_t>(e.id().structured().most_significant_bits()),
            0x0f8fad5bd9cb469fULL);
  EXPECT_EQ(e.data(), "abc");
  EXPECT_EQ(e.metadata().at("type"), "t");
  EXPECT_EQ(e.metadata().at("content-type"), "application/octet-stream");
  EXPECT_THAT(e.metadata().at("created"), MatchesRegex("[0-9]+"));
  EXPECT_EQ(out[1].content_case(), ReadResp::kLastStreamPosition);
  EXPECT_EQ(out[1].last_stream_position(), 0u);
}

TEST_F(GrpcServerTest, WrongExpectedVersionIsInTheBodyWithBothFieldSets) {
  AppendReq options = Options("s");
  options.mutable_options()->set_revision(4);
  AppendResp resp;
  grpc::ClientContext context;
  ASSERT_TRUE(Append({options, Proposed("t", "x")}, &resp, &context).ok());
  ASSERT_TRUE(resp.has_wrong_expected_version());
  const auto& w = resp.wrong_expected_version();
  EXPECT_TRUE(w.has_current_no_stream());
  EXPECT_TRUE(w.has_no_stream_20_6_0());
  EXPECT_EQ(w.expected_revision(), 4u);
  EXPECT_EQ(w.expected_revision_20_6_0(), 4u);
  EXPECT_EQ(node_->LastPosition(), 0u);
}

TEST_F(GrpcServerTest, HostileAppendsGetErrorsWithTrailers) {
  {
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(Append({Proposed("t", "x")}, &resp, &context).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);  // no options first
  }
  {
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(
        Append({Options("s"), Proposed("t", "x", "not-a-uuid")}, &resp, &context).error_code(),
        grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(Append({Options("s"), Proposed("", "x")}, &resp, &context).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(Trailer(context, "exception"), "missing-required-metadata-property");
    EXPECT_EQ(Trailer(context, "required-metadata-properties"), "type,content-type");
  }
  {
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(Append({Options("s"), Proposed("t", std::string(kMaxAppend, 'x'))}, &resp, &context)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(Trailer(context, "exception"), "maximum-append-size-exceeded");
    EXPECT_EQ(Trailer(context, "maximum-append-size"), "1000");
  }
  {
    // Bigger than any message the server accepts: refused by gRPC itself.
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(Append({Options("s"), Proposed("t", std::string(6 << 20, 'x'))}, &resp, &context)
                  .error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  {
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(Append({}, &resp, &context).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(node_->LastPosition(), 0u);
  ExpectServerAlive();
}

TEST_F(GrpcServerTest, DeletedStreamsAnswerWithTrailers) {
  ASSERT_TRUE(node_->Append("s", ESDB_EXPECT_ANY, {AppendEvent{"", "t"}}).ok());
  {
    event_store::client::streams::DeleteReq req;
    req.mutable_options()->mutable_stream_identifier()->set_stream_name("s");
    req.mutable_options()->set_revision(3);
    event_store::client::streams::DeleteResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(streams_->Delete(&context, req, &resp).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(Trailer(context, "exception"), "wrong-expected-version");
    EXPECT_EQ(Trailer(context, "expected-version"), "3");
    EXPECT_EQ(Trailer(context, "actual-version"), "0");
  }
  {
    event_store::client::streams::TombstoneReq req;
    req.mutable_options()->mutable_stream_identifier()->set_stream_name("s");
    req.mutable_options()->mutable_any();
    event_store::client::streams::TombstoneResp resp;
    grpc::ClientContext context;
    ASSERT_TRUE(streams_->Tombstone(&context, req, &resp).ok());
    EXPECT_EQ(resp.position().commit_position(), 1u);
  }
  {
    grpc::ClientContext context;
    std::vector<ReadResp> out;
    EXPECT_EQ(Read(StreamRead("s"), &out, &context).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(Trailer(context, "exception"), "stream-deleted");
    EXPECT_EQ(Trailer(context, "stream-name"), "s");
  }
  {
    AppendResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(Append({Options("s"), Proposed("t", "x")}, &resp, &context).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_EQ(Trailer(context, "exception"), "stream-deleted");
  }
  {
    event_store::client::streams::DeleteReq req;  // no options at all
    event_store::client::streams::DeleteResp resp;
    grpc::ClientContext context;
    EXPECT_EQ(streams_->Delete(&context, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(GrpcServerTest, BatchAppendAnswersPerCorrelationId) {
  ASSERT_TRUE(node_->TombstoneStream("gone", ESDB_EXPECT_ANY).ok());
  grpc::ClientContext context;
  auto call = streams_->BatchAppend(&context);
  auto request = [](const std::string& stream, const std::string& id, int64_t expected) {
    BatchAppendReq req;
    req.mutable_correlation_id()->set_string(id);
    req.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
    if (expected >= 0) {
      req.mutable_options()->set_stream_position(static_cast<uint64_t>(expected));
    } else {
      req.mutable_options()->mutable_any();
    }
    auto* m = req.add_proposed_messages();
    m->mutable_id()->set_string(kId);
    (*m->mutable_metadata())["type"] = "t";
    (*m->mutable_metadata())["content-type"] = "application/json";
    m->set_data("{}");
    req.set_is_final(true);
    return req;
  };
  const std::string ok_id = "00000000-0000-0000-0000-000000000001";
  const std::string wrong_id = "00000000-0000-0000-0000-000000000002";
  const std::string gone_id = "00000000-0000-0000-0000-000000000003";
  ASSERT_TRUE(call->Write(request("b", ok_id, -1)));
  ASSERT_TRUE(call->Write(request("b", wrong_id, 7)));
  ASSERT_TRUE(call->Write(request("gone", gone_id, -1)));
  std::vector<BatchAppendResp> answers(3);
  for (BatchAppendResp& a : answers) ASSERT_TRUE(call->Read(&a));
  EXPECT_EQ(answers[0].correlation_id().string(), ok_id);
  EXPECT_EQ(answers[0].success().current_revision(), 0u);
  EXPECT_EQ(answers[1].error().code(), google::rpc::ALREADY_EXISTS);
  event_store::client::WrongExpectedVersion wrong;
  ASSERT_TRUE(answers[1].error().details().UnpackTo(&wrong));
  EXPECT_EQ(wrong.current_stream_revision(), 0u);
  EXPECT_EQ(wrong.expected_stream_position(), 7u);
  EXPECT_EQ(answers[2].error().code(), google::rpc::NOT_FOUND);
  EXPECT_TRUE(answers[2].error().details().Is<event_store::client::StreamDeleted>());

  // A request without a correlation id cannot be answered: the call ends.
  BatchAppendReq anonymous = request("b", ok_id, -1);
  anonymous.clear_correlation_id();
  ASSERT_TRUE(call->Write(anonymous));
  call->WritesDone();
  BatchAppendResp extra;
  EXPECT_FALSE(call->Read(&extra));
  EXPECT_EQ(call->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectServerAlive();
}

TEST_F(GrpcServerTest, SubscriptionConfirmsCatchesUpAndEndsWhenCancelled) {
  ASSERT_TRUE(node_->Append("s", ESDB_EXPECT_ANY, {AppendEvent{"", "t"}}).ok());
  ReadReq req = StreamRead("s");
  req.mutable_options()->mutable_subscription();
  grpc::ClientContext context;
  auto reader = streams_->Read(&context, req);
  ReadResp resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_TRUE(resp.has_confirmation());
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.event().event().stream_revision(), 0u);
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_TRUE(resp.has_caught_up());
  ASSERT_TRUE(node_->Append("s", ESDB_EXPECT_ANY, {AppendEvent{"", "t"}}).ok());
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.event().event().stream_revision(), 1u);
  context.TryCancel();
  while (reader->Read(&resp)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ExpectServerAlive();
}

// A client that does not read fills its call's queue; the call then pauses its subscription
// rather than block in on_events, so with a single node thread for all subscriptions others
// still get every event, and the slow ones get theirs, in order, once they read.
TEST(GrpcSlowSubscriberTest, PausesItsSubscriptionInsteadOfHoldingTheNodesThread) {
  LogNodeOptions node_options;
  node_options.subscription_threads = 1;
  node_options.max_subscription_threads = 1;
  std::unique_ptr<LogNode> node = LogNode::InMemory(node_options);
  GrpcServerOptions options;
  options.port = 0;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(node.get(), options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto streams = Streams::NewStub(channel);

  ReadReq req;
  req.mutable_options()->mutable_all()->mutable_start();
  req.mutable_options()->mutable_subscription();
  req.mutable_options()->mutable_no_filter();
  req.mutable_options()->mutable_uuid_option()->mutable_string();
  constexpr int kSlow = 3;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<ReadResp>>> slow;
  for (int i = 0; i < kSlow; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    slow.push_back(streams->Read(contexts.back().get(), req));
    ReadResp resp;
    ASSERT_TRUE(slow.back()->Read(&resp));  // confirmed: the subscription exists
    ASSERT_TRUE(resp.has_confirmation());
  }

  struct Counter {
    absl::Mutex mu;
    uint64_t next = 1;
    bool in_order = true;
  } counter;
  esdb_subscription_callbacks cb{};
  cb.struct_size = sizeof(cb);
  cb.user = &counter;
  cb.on_events = [](void* user, const esdb_recorded_event* const* events, size_t count) {
    auto* c = static_cast<Counter*>(user);
    absl::MutexLock lock(&c->mu);
    for (size_t i = 0; i < count; ++i) c->in_order &= events[i]->position.commit == c->next++;
  };
  esdb_subscribe_options from_start{};
  from_start.struct_size = sizeof(from_start);
  from_start.from = ESDB_FROM_START;
  auto direct = node->SubscribeAll(from_start, cb);
  ASSERT_TRUE(direct.ok());

  // Far more than the calls' queues and the transport's windows hold.
  constexpr uint64_t kEvents = 20000;
  std::vector<StreamEvents> batch(1);
  batch[0].stream = "s";
  for (uint64_t i = 0; i < kEvents; ++i) {
    batch[0].events.push_back(
        AppendEvent{"", "t", "application/octet-stream", std::string(500, 'x')});
  }
  ASSERT_TRUE(node->AppendBatch(std::move(batch)).ok());
  {
    absl::MutexLock lock(&counter.mu);
    auto all = [&counter]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(counter.mu) { return counter.next > kEvents; };
    ASSERT_TRUE(counter.mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30)));
    EXPECT_TRUE(counter.in_order);
  }

  for (int i = 0; i < kSlow; ++i) {
    uint64_t next = 0;
    ReadResp resp;
    while (next < kEvents && slow[i]->Read(&resp)) {
      if (!resp.has_event()) continue;
      ASSERT_EQ(resp.event().event().stream_revision(), next) << "subscriber " << i;
      ++next;
    }
    EXPECT_EQ(next, kEvents);
    contexts[i]->TryCancel();
    while (slow[i]->Read(&resp)) {
    }
    slow[i]->Finish().IgnoreError();
  }
  direct->reset();
  (*server)->Stop();
  node->Shutdown();
}

TEST_F(GrpcServerTest, GossipAndServerFeatures) {
  auto gossip = event_store::client::gossip::Gossip::NewStub(channel_);
  grpc::ClientContext context;
  event_store::client::gossip::ClusterInfo info;
  ASSERT_TRUE(gossip->Read(&context, {}, &info).ok());
  ASSERT_EQ(info.members_size(), 1);
  EXPECT_EQ(info.members(0).state(), event_store::client::gossip::MemberInfo::Leader);
  EXPECT_TRUE(info.members(0).is_alive());
  EXPECT_EQ(info.members(0).http_end_point().port(), server_->port());
  EXPECT_FALSE(info.members(0).instance_id().string().empty());

  auto features = event_store::client::server_features::ServerFeatures::NewStub(channel_);
  grpc::ClientContext features_context;
  event_store::client::server_features::SupportedMethods methods;
  ASSERT_TRUE(features->GetSupportedMethods(&features_context, {}, &methods).ok());
  EXPECT_THAT(methods.event_store_server_version(), MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& m : methods.methods()) names.emplace_back(m.service_name(), m.method_name());
  EXPECT_THAT(names,
              ::testing::Contains(Pair("event_store.client.streams.streams", "batchappend")));
  EXPECT_THAT(names, ::testing::Contains(Pair("event_store.client.streams.streams", "read")));
  for (const auto& [service, method] : names) {
    EXPECT_THAT(service + "/" + method, MatchesRegex("[a-z_.]+/[a-z]+"));
  }
}

// EventStoreDB keeps stream X's metadata in "$$X" as "$metadata" events; clients (the side-car
// among them) set and read metadata that way, and the node's own metadata store must see it.
TEST_F(GrpcServerTest, MetadataStreamMapsToTheStreamsMetadata) {
  grpc::ClientContext missing_context;
  std::vector<ReadResp> missing;
  ASSERT_TRUE(Read(StreamRead("$$s"), &missing, &missing_context).ok());
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].content_case(), ReadResp::kStreamNotFound);

  AppendReq meta = Proposed("$metadata", R"({"$maxCount":2})");
  (*meta.mutable_proposed_message()->mutable_metadata())["content-type"] = "application/json";
  AppendResp resp;
  grpc::ClientContext context;
  ASSERT_TRUE(Append({Options("$$s"), meta}, &resp, &context).ok());
  ASSERT_TRUE(resp.has_success());
  auto json = node_->GetStreamMetadata("s");
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, ::testing::HasSubstr("\"$maxCount\":2"));
  EXPECT_EQ(node_->LastPosition(), 0u);  // metadata is not an event of $all here

  grpc::ClientContext read_context;
  std::vector<ReadResp> out;
  ASSERT_TRUE(Read(StreamRead("$$s"), &out, &read_context).ok());
  ASSERT_EQ(out.size(), 1u);
  const auto& e = out[0].event().event();
  EXPECT_EQ(e.stream_identifier().stream_name(), "$$s");
  EXPECT_EQ(e.metadata().at("type"), "$metadata");
  EXPECT_THAT(e.data(), ::testing::HasSubstr("\"$maxCount\":2"));

  // Only $metadata events belong there, and expectations hold against the one-event view.
  AppendResp bad;
  grpc::ClientContext bad_context;
  EXPECT_EQ(Append({Options("$$s"), Proposed("other", "{}")}, &bad, &bad_context).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  AppendReq no_stream = Options("$$s");
  no_stream.mutable_options()->mutable_no_stream();
  AppendResp wev;
  grpc::ClientContext wev_context;
  ASSERT_TRUE(Append({no_stream, meta}, &wev, &wev_context).ok());
  EXPECT_TRUE(wev.has_wrong_expected_version());
}

TEST(GrpcServerPortTest, APortInUseIsAnErrorNotAShare) {
  std::unique_ptr<LogNode> node = LogNode::InMemory();
  GrpcServerOptions options;
  options.port = 0;
  auto first = GrpcServer::Start(node.get(), options);
  ASSERT_TRUE(first.ok()) << first.status();
  options.port = (*first)->port();
  auto second = GrpcServer::Start(node.get(), options);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << "two servers share one port";
  (*first)->Stop();
  node->Shutdown();
}

}  // namespace
}  // namespace esdb::devnode
