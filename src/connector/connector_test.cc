#include "connector/connector.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

using S = ConnectorState;

// Folds the events a command decides, as the store would hand them back.
absl::Status Apply1(Connector& c, const Command& command) {
  auto events = Decide(c, command);
  if (!events.ok()) return events.status();
  for (const EventData& e : *events) {
    Record r;
    r.revision = static_cast<uint64_t>(c.revision + 1);
    r.event_type = e.event_type;
    r.data = e.data;
    r.created_unix_us = 1000 + c.revision;
    Apply(c, r);
  }
  return absl::OkStatus();
}

Connector InState(S state) {
  Connector c;
  c.id = "c1";
  EXPECT_TRUE(Apply1(c, cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  switch (state) {
    case S::kStopped: break;
    case S::kActivating: EXPECT_TRUE(Apply1(c, cmd::Enable{}).ok()); break;
    case S::kRunning:
      EXPECT_TRUE(Apply1(c, cmd::Enable{}).ok());
      EXPECT_TRUE(Apply1(c, cmd::MarkRunning{"h1"}).ok());
      break;
    case S::kDeactivating:
      EXPECT_TRUE(Apply1(c, cmd::Enable{}).ok());
      EXPECT_TRUE(Apply1(c, cmd::Disable{}).ok());
      break;
    case S::kFailed:
      EXPECT_TRUE(Apply1(c, cmd::Enable{}).ok());
      EXPECT_TRUE(Apply1(c, cmd::MarkFailed{"h1", "boom"}).ok());
      break;
  }
  EXPECT_EQ(c.state, state);
  return c;
}

TEST(ConnectorTest, StartsCountUntilRunningAndOperatorActionsClearThem) {
  Connector c = InState(S::kActivating);
  ASSERT_TRUE(Apply1(c, cmd::MarkStarting{"h1"}).ok());
  ASSERT_TRUE(Apply1(c, cmd::MarkStarting{"h2"}).ok());
  EXPECT_EQ(c.start_attempts, 2);
  EXPECT_EQ(c.state, S::kActivating);  // a start changes nothing else
  ASSERT_TRUE(Apply1(c, cmd::MarkRunning{"h2"}).ok());
  EXPECT_EQ(c.start_attempts, 0);
  ASSERT_TRUE(Apply1(c, cmd::MarkStarting{"h2"}).ok());  // a restart while RUNNING counts too
  EXPECT_EQ(c.start_attempts, 1);
  // RUNNING on the same host again is recorded, since it clears the count.
  auto again = Decide(c, cmd::MarkRunning{"h2"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->size(), 1u);
  ASSERT_TRUE(Apply1(c, cmd::MarkRunning{"h2"}).ok());
  EXPECT_EQ(c.start_attempts, 0);
  EXPECT_TRUE(Decide(c, cmd::MarkRunning{"h2"})->empty());
  ASSERT_TRUE(Apply1(c, cmd::MarkStarting{"h2"}).ok());
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h2", "too many starts"}).ok());
  EXPECT_EQ(c.start_attempts, 1);
  EXPECT_FALSE(Apply1(c, cmd::MarkStarting{"h2"}).ok());  // not from FAILED
  ASSERT_TRUE(Apply1(c, cmd::Enable{}).ok());
  EXPECT_EQ(c.start_attempts, 0);
}

TEST(ConnectorTest, CreateFoldsSettingsAndStartsStopped) {
  Connector c;
  c.id = "c1";
  ASSERT_TRUE(Apply1(c, cmd::Create{{{"instanceTypeName", "null-sink"}, {"a", "b"}}}).ok());
  EXPECT_TRUE(c.exists);
  EXPECT_EQ(c.state, S::kStopped);
  EXPECT_EQ(c.revision, 0);
  EXPECT_EQ(c.epoch, 0);
  EXPECT_EQ(c.settings.at("a"), "b");
}

TEST(ConnectorTest, CommandsOnMissingConnectorAreNotFound) {
  Connector c;
  c.id = "nope";
  for (Command command : std::vector<Command>{cmd::Reconfigure{}, cmd::Enable{}, cmd::Disable{},
                                              cmd::Reset{}, cmd::Delete{}, cmd::MarkRunning{"h"}}) {
    EXPECT_TRUE(absl::IsNotFound(Decide(c, command).status()));
  }
}

TEST(ConnectorTest, SecondCreateIsAlreadyExists) {
  Connector c = InState(S::kStopped);
  EXPECT_TRUE(absl::IsAlreadyExists(Decide(c, cmd::Create{}).status()));
}

// Which user commands each state allows; the others must be FailedPrecondition.
struct Allowed {
  S state;
  bool enable, disable, reset, del;
};

class TransitionTest : public ::testing::TestWithParam<Allowed> {};

TEST_P(TransitionTest, AllowsExactlyTheValidCommands) {
  const Allowed& a = GetParam();
  auto check = [&](const Command& command, bool allowed, const char* name) {
    Connector c = InState(a.state);
    absl::Status s = Apply1(c, command);
    if (allowed) {
      EXPECT_TRUE(s.ok()) << name << " in " << ConnectorStateName(a.state) << ": " << s;
    } else {
      EXPECT_TRUE(absl::IsFailedPrecondition(s)) << name << " in " << ConnectorStateName(a.state);
      EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(ConnectorStateName(a.state)));
    }
  };
  check(cmd::Enable{}, a.enable, "enable");
  check(cmd::Disable{}, a.disable, "disable");
  check(cmd::Reset{}, a.reset, "reset");
  check(cmd::Delete{}, a.del, "delete");
  check(cmd::Reconfigure{{{"instanceTypeName", "x"}}}, true, "reconfigure");
}

INSTANTIATE_TEST_SUITE_P(AllStates, TransitionTest,
                         ::testing::Values(Allowed{S::kStopped, true, false, true, true},
                                           Allowed{S::kActivating, false, true, false, false},
                                           Allowed{S::kRunning, false, true, false, false},
                                           Allowed{S::kDeactivating, false, false, false, false},
                                           Allowed{S::kFailed, true, true, true, true}));

TEST(ConnectorTest, LifecycleEndStates) {
  Connector c = InState(S::kRunning);
  EXPECT_EQ(c.host, "h1");
  ASSERT_TRUE(Apply1(c, cmd::Disable{}).ok());
  EXPECT_EQ(c.state, S::kDeactivating);
  ASSERT_TRUE(Apply1(c, cmd::MarkStopped{}).ok());
  EXPECT_EQ(c.state, S::kStopped);

  Connector f = InState(S::kFailed);
  EXPECT_EQ(f.error, "boom");
  ASSERT_TRUE(Apply1(f, cmd::Disable{}).ok());  // a failed connector stops without a runner
  EXPECT_EQ(f.state, S::kStopped);
  ASSERT_TRUE(Apply1(f, cmd::Enable{}).ok());
  EXPECT_TRUE(f.error.empty());
}

TEST(ConnectorTest, SystemCommandsNeedTheirState) {
  EXPECT_TRUE(absl::IsFailedPrecondition(Decide(InState(S::kStopped), cmd::MarkRunning{"h"}).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Decide(InState(S::kStopped), cmd::MarkFailed{"h", "x"}).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(Decide(InState(S::kRunning), cmd::MarkStopped{}).status()));
  // Marking running again on the same host is a no-op; another host takes over.
  EXPECT_TRUE(Decide(InState(S::kRunning), cmd::MarkRunning{"h1"})->empty());
  EXPECT_EQ(Decide(InState(S::kRunning), cmd::MarkRunning{"h2"})->size(), 1u);
}

TEST(ConnectorTest, ResetAndEnableFromPositionStartNewEpochs) {
  Connector c = InState(S::kStopped);
  ASSERT_TRUE(Apply1(c, cmd::Reset{Position{42, 42}}).ok());
  EXPECT_EQ(c.epoch, c.revision);
  EXPECT_EQ(c.epoch_position, (Position{42, 42}));
  ASSERT_TRUE(Apply1(c, cmd::Reset{}).ok());
  EXPECT_FALSE(c.epoch_position.has_value());
  int64_t before = c.epoch;
  ASSERT_TRUE(Apply1(c, cmd::Enable{}).ok());
  EXPECT_EQ(c.epoch, before);  // a plain enable resumes from the checkpoint
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h", "x"}).ok());
  ASSERT_TRUE(Apply1(c, cmd::Enable{Position{7, 7}}).ok());
  EXPECT_EQ(c.epoch, c.revision);
  EXPECT_EQ(c.epoch_position, (Position{7, 7}));
}

TEST(ConnectorTest, DeleteThenCreateStartsAfresh) {
  Connector c = InState(S::kFailed);
  ASSERT_TRUE(Apply1(c, cmd::Delete{}).ok());
  EXPECT_FALSE(c.exists);
  EXPECT_TRUE(absl::IsNotFound(Decide(c, cmd::Enable{}).status()));
  ASSERT_TRUE(Apply1(c, cmd::Create{{{"instanceTypeName", "file-sink"}}}).ok());
  EXPECT_TRUE(c.exists);
  EXPECT_EQ(c.state, S::kStopped);
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.epoch, c.revision);
}

TEST(ConnectorTest, UnknownEventsAreSkipped) {
  Connector c = InState(S::kStopped);
  Record r;
  r.revision = 1;
  r.event_type = "SomethingFromTheFuture";
  r.data = "not json";
  Apply(c, r);
  EXPECT_EQ(c.state, S::kStopped);
  EXPECT_EQ(c.revision, 1);
}

TEST(ConnectorTest, ValidatesIds) {
  EXPECT_TRUE(ValidateConnectorId("orders-to-kafka_1.v2").ok());
  EXPECT_FALSE(ValidateConnectorId("").ok());
  EXPECT_FALSE(ValidateConnectorId(std::string(101, 'a')).ok());
  EXPECT_TRUE(ValidateConnectorId(std::string(100, 'a')).ok());
  EXPECT_FALSE(ValidateConnectorId("a/b").ok());
  EXPECT_FALSE(ValidateConnectorId("sp ace").ok());
  EXPECT_FALSE(ValidateConnectorId(".hidden").ok());
}

}  // namespace
}  // namespace esdb
