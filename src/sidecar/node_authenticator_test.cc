// The side-car's delegation of authentication to the node, against a stand-in Users service on
// a real (plain) gRPC channel: what the node answers decides who the caller is, the caller's own
// credentials are the ones sent, and good answers are cached. TLS and the real dev node's users
// are covered end to end (tests/sidecar).
#include "sidecar/node_authenticator.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/basic_credentials.h"
#include "gmock/gmock.h"
#include "gossip.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "users.grpc.pb.h"

namespace esdb::sidecar {
namespace {

using event_store::client::users::DetailsReq;
using event_store::client::users::DetailsResp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Knows one user, "ops" with password "pw", in $ops. "mute" authenticates but may not read its
// details; "gone" is disabled.
class FakeUsers final : public event_store::client::users::Users::Service {
 public:
  grpc::Status Details(grpc::ServerContext* context, const DetailsReq* request,
                       grpc::ServerWriter<DetailsResp>* writer) override {
    ++calls;
    auto it = context->client_metadata().find("authorization");
    const std::string sent = it == context->client_metadata().end()
                                 ? ""
                                 : std::string(it->second.data(), it->second.size());
    {
      absl::MutexLock lock(&mu);
      last_authorization = sent;
    }
    const std::string& name = request->options().login_name();
    for (const auto& [user, password] :
         {std::pair{"ops", "pw"}, std::pair{"mute", "pw"}, std::pair{"gone", "pw"}}) {
      if (sent != auth::BasicAuthorization(user, password)) continue;
      if (name != user) return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not yours");
      if (name == "mute") return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no");
      DetailsResp resp;
      resp.mutable_user_details()->set_login_name(name);
      if (name == "ops") resp.mutable_user_details()->add_groups("$ops");
      resp.mutable_user_details()->set_disabled(name == "gone");
      writer->Write(resp);
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad credentials");
  }

  std::atomic<int> calls{0};
  absl::Mutex mu;
  std::string last_authorization ABSL_GUARDED_BY(mu);
};

class NodeAuthenticatorTest : public ::testing::Test {
 protected:
  void Start(bool with_users) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    // Some service is needed for a server to start; gossip stands for "any other".
    if (with_users) {
      builder.RegisterService(&users_);
    } else {
      builder.RegisterService(&gossip_);
    }
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    // The side-car's own user is someone else entirely: it must not be what is sent.
    auto settings = ParseConnectionString(
        absl::StrCat("kurrentdb://sidecar:own-pw@127.0.0.1:", port_, "?tls=false"));
    ASSERT_TRUE(settings.ok());
    auto connection = NodeConnection::Create(*settings);
    ASSERT_TRUE(connection.ok());
    connection_ = *std::move(connection);
    authenticator_ = std::make_unique<NodeAuthenticator>(connection_.get());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  FakeUsers users_;
  event_store::client::gossip::Gossip::Service gossip_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<NodeConnection> connection_;
  std::unique_ptr<NodeAuthenticator> authenticator_;
};

TEST_F(NodeAuthenticatorTest, TheNodeSaysWhoTheCallerIsAndTheAnswerIsCached) {
  Start(true);
  auto who = authenticator_->Check({"ops", "pw"});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->kind, http::Principal::Kind::kUser);
  EXPECT_EQ(who->name, "ops");
  EXPECT_THAT(who->roles, ElementsAre("$ops"));
  {
    absl::MutexLock lock(&users_.mu);
    EXPECT_EQ(users_.last_authorization, auth::BasicAuthorization("ops", "pw"));
  }
  ASSERT_TRUE(authenticator_->Check({"ops", "pw"}).ok());
  EXPECT_EQ(users_.calls.load(), 1);
}

TEST_F(NodeAuthenticatorTest, RefusedCredentialsAreUnauthenticatedAndNotCached) {
  Start(true);
  EXPECT_TRUE(absl::IsUnauthenticated(authenticator_->Check({"ops", "wrong"}).status()));
  EXPECT_TRUE(absl::IsUnauthenticated(authenticator_->Check({"ops", "wrong"}).status()));
  EXPECT_EQ(users_.calls.load(), 2);
  EXPECT_TRUE(absl::IsUnauthenticated(authenticator_->Check({"gone", "pw"}).status()));
}

TEST_F(NodeAuthenticatorTest, AuthenticatedButUndescribedGetsNoGroups) {
  Start(true);
  auto who = authenticator_->Check({"mute", "pw"});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->name, "mute");
  EXPECT_TRUE(who->roles.empty());
}

TEST_F(NodeAuthenticatorTest, ANodeWithoutUsersOrAwayIsUnavailable) {
  Start(false);
  auto who = authenticator_->Check({"ops", "pw"});
  EXPECT_TRUE(absl::IsUnavailable(who.status())) << who.status();
  EXPECT_THAT(who.status().message(), HasSubstr("Users.Details"));
  server_->Shutdown();
  server_.reset();
  EXPECT_TRUE(absl::IsUnavailable(authenticator_->Check({"ops", "pw"}).status()));
}

}  // namespace
}  // namespace esdb::sidecar
