// Who may use which stream over the client protocol, driven through the calls' own state (no
// server): a refused write writes nothing, a refused batch leaves the call usable, and
// Users.Details answers as KurrentDB does. The wire, TLS and credentials are tested end to end
// (tests/e2e/secure_test.cc).
#include "devnode/grpc_access.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/password_hash.h"
#include "auth/user_store.h"
#include "devnode/grpc_append.h"
#include "devnode/grpc_streams.h"
#include "devnode/grpc_users.h"
#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shared.pb.h"

namespace esdb::devnode {
namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::BatchAppendReq;
using event_store::client::streams::BatchAppendResp;
using event_store::client::streams::DeleteReq;
using event_store::client::streams::DeleteResp;
using event_store::client::users::DetailsReq;
using event_store::client::users::DetailsResp;
using Kind = http::Principal::Kind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const http::Principal kAdmin{Kind::kUser, "admin", {"$admins"}};
const http::Principal kOps{Kind::kUser, "ops", {"$ops"}};
const http::Principal kReader{Kind::kUser, "reader", {}};

AppendReq Options(const std::string& stream) {
  AppendReq req;
  req.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
  req.mutable_options()->mutable_any();
  return req;
}

AppendReq Proposed() {
  AppendReq req;
  auto* m = req.mutable_proposed_message();
  m->mutable_id()->set_string("0f8fad5b-d9cb-469f-a165-70867728950e");
  (*m->mutable_metadata())["type"] = "t";
  (*m->mutable_metadata())["content-type"] = "application/octet-stream";
  m->set_data("x");
  return req;
}

class GrpcAccessTest : public ::testing::Test {
 protected:
  void TearDown() override { node_->Shutdown(); }

  std::unique_ptr<LogNode> node_ = LogNode::InMemory();
  AppendLimits limits_;
};

TEST_F(GrpcAccessTest, RefusalsReadAsOfficialServersSendThem) {
  GrpcError unauthenticated = AccessError(absl::UnauthenticatedError("who?"));
  EXPECT_EQ(unauthenticated.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  GrpcError denied = AccessError(absl::PermissionDeniedError("no"));
  EXPECT_EQ(denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.trailers, ElementsAre(Pair("exception", "access-denied")));
  google::rpc::Status batch = BatchAccessError(absl::PermissionDeniedError("no"));
  EXPECT_EQ(batch.code(), google::rpc::PERMISSION_DENIED);
  EXPECT_TRUE(batch.details().Is<event_store::client::AccessDenied>());
}

TEST_F(GrpcAccessTest, InsecureCallersMayDoAnything) {
  StreamAccess access = AccessFor(http::Principal{Kind::kInsecure});
  EXPECT_FALSE(access);  // no check at all
  EXPECT_TRUE(CheckAccess(access, auth::StreamOperation::kWrite, "$connectors/x").ok());
}

TEST_F(GrpcAccessTest, AppendToALibraryStreamNeedsAdmins) {
  for (const http::Principal& who : {kOps, kReader}) {
    AppendCallState call(node_.get(), limits_, AccessFor(who));
    std::optional<GrpcError> error = call.Take(Options("$connectors/orders"));
    ASSERT_TRUE(error.has_value()) << who.name;
    EXPECT_EQ(error->status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_THAT(error->status.error_message(), HasSubstr("$admins"));
  }
  AppendCallState admin(node_.get(), limits_, AccessFor(kAdmin));
  ASSERT_FALSE(admin.Take(Options("$connectors/orders")).has_value());
  ASSERT_FALSE(admin.Take(Proposed()).has_value());
  AppendResp resp;
  ASSERT_FALSE(admin.Complete(&resp).has_value());
  EXPECT_TRUE(resp.has_success());
  EXPECT_EQ(node_->LastPosition(), 1u);  // only the admin's event
}

TEST_F(GrpcAccessTest, AnyUserMayAppendToOtherStreams) {
  AppendCallState call(node_.get(), limits_, AccessFor(kReader));
  ASSERT_FALSE(call.Take(Options("orders")).has_value());
  ASSERT_FALSE(call.Take(Proposed()).has_value());
  AppendResp resp;
  ASSERT_FALSE(call.Complete(&resp).has_value());
  EXPECT_TRUE(resp.has_success());
}

TEST_F(GrpcAccessTest, RefusedBatchIsAnsweredAndTheCallGoesOn) {
  BatchAppendCallState call(node_.get(), limits_, AccessFor(kReader));
  auto batch = [](const std::string& stream, const std::string& id) {
    BatchAppendReq req;
    req.mutable_correlation_id()->set_string(id);
    req.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
    req.mutable_options()->mutable_any();
    auto* m = req.add_proposed_messages();
    m->mutable_id()->set_string("0f8fad5b-d9cb-469f-a165-70867728950e");
    (*m->mutable_metadata())["type"] = "t";
    (*m->mutable_metadata())["content-type"] = "application/octet-stream";
    req.set_is_final(true);
    return req;
  };
  std::optional<BatchAppendResp> answer;
  ASSERT_TRUE(
      call.Handle(batch("$connectors-hosts", "6a2f41a3-c54c-fce8-32d2-0324e1c32e22"), &answer)
          .ok());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->error().code(), google::rpc::PERMISSION_DENIED);
  EXPECT_EQ(answer->stream_identifier().stream_name(), "$connectors-hosts");
  answer.reset();
  ASSERT_TRUE(call.Handle(batch("orders", "7a2f41a3-c54c-fce8-32d2-0324e1c32e22"), &answer).ok());
  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->has_success());
  EXPECT_EQ(node_->LastPosition(), 1u);
}

TEST_F(GrpcAccessTest, DeleteAndTombstoneOfALibraryStreamNeedAdmins) {
  AppendEvent event;
  event.event_type = "t";
  ASSERT_TRUE(node_->Append("$connectors", ESDB_EXPECT_ANY, {event}).ok());
  DeleteReq req;
  req.mutable_options()->mutable_stream_identifier()->set_stream_name("$connectors");
  req.mutable_options()->mutable_any();
  DeleteResp resp;
  std::optional<GrpcError> refused = HandleDelete(*node_, req, &resp, AccessFor(kOps));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  event_store::client::streams::TombstoneReq tomb;
  tomb.mutable_options()->mutable_stream_identifier()->set_stream_name("$connectors");
  tomb.mutable_options()->mutable_any();
  event_store::client::streams::TombstoneResp tomb_resp;
  refused = HandleTombstone(*node_, tomb, &tomb_resp, AccessFor(kReader));
  ASSERT_TRUE(refused.has_value());
  EXPECT_TRUE(node_->ReadStream("$connectors", ReadDirection::kForwards, 0, 10).ok());
  EXPECT_FALSE(HandleDelete(*node_, req, &resp, AccessFor(kAdmin)).has_value());
}

class UserDetailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string hash = auth::PasswordHash::Create("pw", auth::kMinIterations)->Encode();
    auto store = auth::UserStore::FromJson(
        absl::StrCat(R"({"users": [{"name": "admin", "groups": ["$admins"], "passwordHash": ")",
                     hash, R"("}, {"name": "reader", "fullName": "R", "passwordHash": ")", hash,
                     R"("}]})"),
        "test");
    ASSERT_TRUE(store.ok()) << store.status();
    users_ = *std::move(store);
  }

  std::optional<GrpcError> Details(const http::Principal& caller, const std::string& name,
                                   std::vector<DetailsResp>* out) {
    DetailsReq req;
    req.mutable_options()->set_login_name(name);
    return HandleUserDetails(*users_, caller, req, out);
  }

  std::unique_ptr<auth::UserStore> users_;
};

TEST_F(UserDetailsTest, AUserReadsItsOwnDetails) {
  std::vector<DetailsResp> out;
  ASSERT_FALSE(Details(kReader, "reader", &out).has_value());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].user_details().login_name(), "reader");
  EXPECT_EQ(out[0].user_details().full_name(), "R");
  EXPECT_TRUE(out[0].user_details().groups().empty());
  EXPECT_FALSE(out[0].user_details().disabled());
  EXPECT_GT(out[0].user_details().last_updated().ticks_since_epoch(), 0);
}

TEST_F(UserDetailsTest, OnlyAdminsReadOthersOrListEveryone) {
  std::vector<DetailsResp> out;
  std::optional<GrpcError> refused = Details(kReader, "admin", &out);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  refused = Details(kReader, "", &out);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(out.empty());

  ASSERT_FALSE(Details(kAdmin, "reader", &out).has_value());
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  ASSERT_FALSE(Details(kAdmin, "", &out).has_value());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_THAT(out[0].user_details().groups(), ElementsAre("$admins"));
}

TEST_F(UserDetailsTest, UnknownUserAndAnonymousCaller) {
  std::vector<DetailsResp> out;
  std::optional<GrpcError> missing = Details(kAdmin, "ghost", &out);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing->trailers,
              ElementsAre(Pair("exception", "user-not-found"), Pair("login-name", "ghost")));
  std::optional<GrpcError> anonymous = Details(http::Principal{Kind::kAnonymous}, "reader", &out);
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace esdb::devnode
