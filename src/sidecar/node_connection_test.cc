#include "sidecar/node_connection.h"

#include "gtest/gtest.h"

namespace esdb::sidecar {
namespace {

absl::StatusOr<std::unique_ptr<NodeConnection>> Connect(const std::string& text) {
  auto settings = ParseConnectionString(text);
  EXPECT_TRUE(settings.ok()) << settings.status();
  if (!settings.ok()) return settings.status();
  return NodeConnection::Create(*settings);
}

TEST(NodeConnectionTest, TlsSettingsAreCheckedUpFront) {
  EXPECT_TRUE(Connect("esdb://127.0.0.1:2113").ok());  // TLS, verified against system roots
  EXPECT_TRUE(Connect("esdb://127.0.0.1:2113?tlsVerifyCert=false").ok());
  EXPECT_TRUE(Connect("esdb://127.0.0.1:2113?tls=false").ok());
  auto missing = Connect("esdb://127.0.0.1:2113?tlsCAFile=/nonexistent/ca.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("tlsCAFile"), std::string_view::npos);
}

TEST(NodeConnectionTest, SingleHostIsUsedAsIsAndKeptAcrossFailures) {
  auto c = Connect("kurrentdb://127.0.0.1:1?tls=false");
  ASSERT_TRUE(c.ok());
  auto first = (*c)->Current();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->endpoint.ToString(), "127.0.0.1:1");
  (*c)->ReportUnavailable(first->generation);
  auto again = (*c)->Current();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->generation, first->generation);  // the channel reconnects by itself

  // A not-leader redirect moves the connection; a stale one (old generation) does not.
  (*c)->FollowLeader(Endpoint{"127.0.0.2", 2113}, first->generation);
  auto leader = (*c)->Current();
  ASSERT_TRUE(leader.ok());
  EXPECT_EQ(leader->endpoint.ToString(), "127.0.0.2:2113");
  (*c)->FollowLeader(Endpoint{"127.0.0.3", 2113}, first->generation);
  EXPECT_EQ((*c)->Current()->endpoint.ToString(), "127.0.0.2:2113");
  // Losing the leader goes back to the configured host.
  (*c)->ReportUnavailable(leader->generation);
  EXPECT_EQ((*c)->Current()->endpoint.ToString(), "127.0.0.1:1");
}

TEST(NodeConnectionTest, DiscoveryWithNoSeedAnsweringIsUnavailable) {
  auto c = Connect(
      "kurrentdb+discover://127.0.0.1:1?tls=false&gossipTimeout=200&maxDiscoverAttempts=2&"
      "discoveryInterval=10");
  ASSERT_TRUE(c.ok());
  auto target = (*c)->Current();
  EXPECT_TRUE(absl::IsUnavailable(target.status())) << target.status();
}

}  // namespace
}  // namespace esdb::sidecar
