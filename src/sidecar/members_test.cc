#include "sidecar/members.h"

#include "gtest/gtest.h"
#include "sidecar/node_connection.h"

namespace esdb::sidecar {
namespace {

using event_store::client::gossip::ClusterInfo;
using event_store::client::gossip::MemberInfo;

constexpr char kIdA[] = "0f8fad5b-d9cb-469f-a165-70867728950e";
constexpr char kIdB[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

void Add(ClusterInfo* info, const std::string& id, MemberInfo::VNodeState state, bool alive,
         const std::string& host, uint32_t port) {
  MemberInfo* m = info->add_members();
  if (!id.empty()) m->mutable_instance_id()->set_string(id);
  m->set_state(state);
  m->set_is_alive(alive);
  m->mutable_http_end_point()->set_address(host);
  m->mutable_http_end_point()->set_port(port);
}

TEST(MembersTest, ConnectedNodeIsRenamedToTheSidecarsId) {
  ClusterInfo info;
  Add(&info, kIdA, MemberInfo::Leader, true, "10.0.0.1", 2113);
  Add(&info, kIdB, MemberInfo::Follower, true, "10.0.0.2", 2113);
  auto members = MembersFromGossip(info, Endpoint{"10.0.0.2", 2113}, "me");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0], (MemberView{kIdA, ESDB_ROLE_LEADER, true, "10.0.0.1:2113"}));
  EXPECT_EQ(members[1], (MemberView{"me", ESDB_ROLE_FOLLOWER, true, "10.0.0.2:2113"}));
  EXPECT_EQ(DefaultMemberId(info, Endpoint{"10.0.0.2", 2113}), kIdB);
}

TEST(MembersTest, SingleMemberIsSelfEvenUnderAnotherName) {
  ClusterInfo info;
  Add(&info, kIdA, MemberInfo::Leader, true, "127.0.0.1", 2113);
  auto members = MembersFromGossip(info, Endpoint{"localhost", 3000}, "me");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].id, "me");
  EXPECT_EQ(members[0].role, ESDB_ROLE_LEADER);
  // Loopback names are the same host.
  EXPECT_EQ(FindSelf(info, Endpoint{"localhost", 2113}), 0);
}

TEST(MembersTest, UnlistedSelfIsAddedAndIdsFallBackToEndpoints) {
  ClusterInfo info;
  Add(&info, "", MemberInfo::Leader, true, "10.0.0.1", 2113);
  Add(&info, kIdB, MemberInfo::CatchingUp, false, "10.0.0.2", 2113);
  auto members = MembersFromGossip(info, Endpoint{"10.0.0.9", 2113}, "me");
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].id, "10.0.0.1:2113");
  EXPECT_EQ(members[1].role, ESDB_ROLE_OTHER);
  EXPECT_FALSE(members[1].alive);
  EXPECT_EQ(members[2], (MemberView{"me", ESDB_ROLE_OTHER, true, "10.0.0.9:2113"}));
  EXPECT_EQ(DefaultMemberId(info, Endpoint{"10.0.0.9", 2113}), "10.0.0.9:2113");
}

TEST(MembersTest, SelfNamedByMemberIdWhenTheEndpointDoesNotMatch) {
  // The node is reached through another address than the one gossip advertises; the side-car
  // was told which member it stands for: that member is self, with its role, and only once.
  ClusterInfo info;
  Add(&info, kIdA, MemberInfo::Leader, true, "10.9.9.1", 2113);
  Add(&info, kIdB, MemberInfo::Follower, true, "10.9.9.2", 2113);
  auto members = MembersFromGossip(info, Endpoint{"127.0.0.1", 2113}, kIdA);
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0], (MemberView{kIdA, ESDB_ROLE_LEADER, true, "10.9.9.1:2113"}));
}

TEST(MembersTest, PickMemberFollowsThePreference) {
  ClusterInfo info;
  Add(&info, kIdA, MemberInfo::Leader, true, "10.0.0.1", 2113);
  Add(&info, kIdB, MemberInfo::Follower, true, "10.0.0.2", 2113);
  Add(&info, "", MemberInfo::Follower, false, "10.0.0.3", 2113);
  EXPECT_EQ(PickMember(info, NodePreference::kLeader)->ToString(), "10.0.0.1:2113");
  EXPECT_EQ(PickMember(info, NodePreference::kFollower)->ToString(), "10.0.0.2:2113");
  // No read-only replica: any serving member will do.
  EXPECT_TRUE(PickMember(info, NodePreference::kReadOnlyReplica).has_value());
  ClusterInfo dead;
  Add(&dead, kIdA, MemberInfo::Leader, false, "10.0.0.1", 2113);
  Add(&dead, kIdB, MemberInfo::CatchingUp, true, "10.0.0.2", 2113);
  EXPECT_FALSE(PickMember(dead, NodePreference::kLeader).has_value());
}

// A port gossip names that TCP does not have would be cut to 16 bits (70000 to 4464): such a
// member is passed over.
TEST(MembersTest, PickMemberPassesOverPortsTcpDoesNotHave) {
  ClusterInfo info;
  Add(&info, kIdA, MemberInfo::Leader, true, "10.0.0.1", 70000);
  Add(&info, kIdB, MemberInfo::Leader, true, "10.0.0.2", 0);
  EXPECT_FALSE(PickMember(info, NodePreference::kLeader).has_value());
  Add(&info, "", MemberInfo::Leader, true, "10.0.0.3", 65535);
  EXPECT_EQ(PickMember(info, NodePreference::kLeader)->ToString(), "10.0.0.3:65535");
}

}  // namespace
}  // namespace esdb::sidecar
