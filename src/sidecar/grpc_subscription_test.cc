// The Read request a subscription sends; the delivery itself is tested over a real channel in
// node_api_test.cc.
#include "sidecar/grpc_subscription.h"

#include "gtest/gtest.h"

namespace esdb::sidecar {
namespace {

using event_store::client::streams::ReadReq;

esdb_subscribe_options Options() {
  esdb_subscribe_options o{};
  o.struct_size = sizeof(o);
  return o;
}

TEST(SubscriptionRequestTest, StartPointsAndNoFilter) {
  auto from_start = SubscriptionRequest(Options());
  ASSERT_TRUE(from_start.ok());
  EXPECT_TRUE(from_start->options().all().has_start());
  EXPECT_TRUE(from_start->options().has_subscription());
  EXPECT_TRUE(from_start->options().has_no_filter());
  EXPECT_TRUE(from_start->options().uuid_option().has_string());

  esdb_subscribe_options o = Options();
  o.from = ESDB_FROM_POSITION;
  o.position = esdb_position{42, 41};
  auto at = SubscriptionRequest(o);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->options().all().position().commit_position(), 42u);
  EXPECT_EQ(at->options().all().position().prepare_position(), 41u);
  o.from = 9;
  EXPECT_FALSE(SubscriptionRequest(o).ok());
}

TEST(SubscriptionRequestTest, FilterAndCheckpointInterval) {
  const char* prefixes[] = {"order-", "cart-"};
  esdb_subscribe_options o = Options();
  o.filter_scope = ESDB_FILTER_EVENT_TYPE;
  o.filter_regex = "^[^$]";
  o.filter_prefixes = prefixes;
  o.filter_prefix_count = 2;
  o.checkpoint_interval = 250;
  auto req = SubscriptionRequest(o);
  ASSERT_TRUE(req.ok());
  const auto& f = req->options().filter();
  EXPECT_EQ(f.event_type().regex(), "^[^$]");
  ASSERT_EQ(f.event_type().prefix_size(), 2);
  EXPECT_EQ(f.event_type().prefix(1), "cart-");
  EXPECT_EQ(f.max() * f.checkpointintervalmultiplier(), 250u);

  // Long intervals keep the window small and use the multiplier.
  o.filter_scope = ESDB_FILTER_STREAM;
  o.checkpoint_interval = 5000;
  req = SubscriptionRequest(o);
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(req->options().filter().has_stream_identifier());
  EXPECT_LE(req->options().filter().max(), kMaxFilterWindow);
  EXPECT_EQ(req->options().filter().max() * req->options().filter().checkpointintervalmultiplier(),
            5000u);
  // 0: the side-car's default.
  o.checkpoint_interval = 0;
  req = SubscriptionRequest(o);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->options().filter().max() * req->options().filter().checkpointintervalmultiplier(),
            kDefaultCheckpointInterval);
}

}  // namespace
}  // namespace esdb::sidecar
