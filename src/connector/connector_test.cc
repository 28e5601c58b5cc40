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
    case S::kStopped:
      break;
    case S::kActivating:
      EXPECT_TRUE(Apply1(c, cmd::Enable{}).ok());
      break;
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
// A disable of a STOPPED or DEACTIVATING connector is allowed and does nothing (as KurrentDB's
// stop).
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
                         ::testing::Values(Allowed{S::kStopped, true, true, true, true},
                                           Allowed{S::kActivating, false, true, false, false},
                                           Allowed{S::kRunning, false, true, false, false},
                                           Allowed{S::kDeactivating, false, true, false, false},
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

TEST(ConnectorTest, DisableOfAStoppedOrStoppingConnectorDoesNothing) {
  for (S state : {S::kStopped, S::kDeactivating}) {
    Connector c = InState(state);
    auto events = Decide(c, cmd::Disable{});
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_TRUE(events->empty()) << ConnectorStateName(state);
  }
}

TEST(ConnectorTest, NameIsKeptFromCreateAndChangedByRename) {
  Connector c;
  c.id = "c1";
  ASSERT_TRUE(
      Apply1(c, cmd::Create{{{"instanceTypeName", "null-sink"}}, {}, "Orders to file"}).ok());
  EXPECT_EQ(c.name, "Orders to file");
  EXPECT_EQ(DisplayName(c), "Orders to file");
  ASSERT_TRUE(Apply1(c, cmd::Rename{"Orders, renamed"}).ok());
  EXPECT_EQ(c.name, "Orders, renamed");
  EXPECT_EQ(c.revision, 1);
  // The same name again writes nothing.
  EXPECT_TRUE(Decide(c, cmd::Rename{"Orders, renamed"})->empty());
  // A rename is allowed in any state and changes nothing else.
  ASSERT_TRUE(Apply1(c, cmd::Enable{}).ok());
  ASSERT_TRUE(Apply1(c, cmd::Rename{"Orders again"}).ok());
  EXPECT_EQ(c.state, S::kActivating);
  EXPECT_EQ(c.settings.at("instanceTypeName"), "null-sink");
  // Deleted: not found; created again: the old name is gone.
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h", "x"}).ok());
  ASSERT_TRUE(Apply1(c, cmd::Delete{}).ok());
  EXPECT_TRUE(absl::IsNotFound(Decide(c, cmd::Rename{"ghost name"}).status()));
  ASSERT_TRUE(Apply1(c, cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(DisplayName(c), "c1");
  // Without a name the id is the name: renaming to it is nothing to do either.
  Connector unnamed;
  unnamed.id = "orders";
  ASSERT_TRUE(Apply1(unnamed, cmd::Create{{{"instanceTypeName", "null-sink"}}}).ok());
  EXPECT_TRUE(Decide(unnamed, cmd::Rename{"orders"})->empty());
  EXPECT_EQ(Decide(unnamed, cmd::Rename{"orders 2"})->size(), 1u);
}

TEST(ConnectorTest, NamesAreCheckedAsKurrentDbChecksThem) {
  Connector c;
  c.id = "ab";
  // A name equal to the id is always fine; any other needs 3..50 characters.
  EXPECT_TRUE(Decide(c, cmd::Create{{}, {}, "ab"}).ok());
  auto short_name = Decide(c, cmd::Create{{}, {}, "xy"});
  EXPECT_TRUE(absl::IsInvalidArgument(short_name.status()));
  EXPECT_THAT(std::string(short_name.status().message()), ::testing::HasSubstr("name"));
  EXPECT_TRUE(ValidateConnectorName("abc").ok());
  EXPECT_TRUE(ValidateConnectorName(std::string(50, 'n')).ok());
  EXPECT_FALSE(ValidateConnectorName(std::string(51, 'n')).ok());
  EXPECT_FALSE(ValidateConnectorName("").ok());
  EXPECT_TRUE(ValidateConnectorName("\xc3\xa9t\xc3\xa9").ok());  // 3 code points, 5 bytes
  std::string fifty;                                             // 50 code points, 100 bytes
  for (int i = 0; i < 50; ++i) fifty += "\xc3\xa9";
  EXPECT_TRUE(ValidateConnectorName(fifty).ok());
  EXPECT_FALSE(ValidateConnectorName(fifty + "\xc3\xa9").ok());
  EXPECT_FALSE(ValidateConnectorName("line\nbreak").ok());
  Connector existing = InState(S::kStopped);
  EXPECT_TRUE(absl::IsInvalidArgument(Decide(existing, cmd::Rename{"no"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Decide(existing, cmd::Rename{""}).status()));
}

TEST(ConnectorTest, ReservedWordsCannotBeNewIds) {
  for (const char* id :
       {"list", "LIST", "List", "settings", "configuration", "rename", "start", "stop", "enable",
        "disable", "reset", "restart", "dead-letters", "replay", "Dead-Letters"}) {
    Connector c;
    c.id = id;
    auto created = Decide(c, cmd::Create{{{"instanceTypeName", "null-sink"}}});
    EXPECT_TRUE(absl::IsInvalidArgument(created.status())) << id;
    EXPECT_THAT(std::string(created.status().message()), ::testing::HasSubstr("reserved")) << id;
    EXPECT_TRUE(ValidateConnectorId(id).ok()) << id;  // existing ones stay readable
  }
  EXPECT_TRUE(ValidateNewConnectorId("listing").ok());
  EXPECT_TRUE(ValidateNewConnectorId("my-list").ok());
  EXPECT_FALSE(ValidateNewConnectorId("").ok());
}

TEST(ConnectorTest, TimesOfCreateUpdateEpochAndDelete) {
  Connector c;
  c.id = "c1";
  auto at = [&](const Command& command, int64_t us) {
    auto events = Decide(c, command);
    ASSERT_TRUE(events.ok()) << events.status();
    for (const EventData& e : *events) {
      Record r;
      r.revision = static_cast<uint64_t>(c.revision + 1);
      r.event_type = e.event_type;
      r.data = e.data;
      r.created_unix_us = us;
      Apply(c, r);
    }
  };
  at(cmd::Create{{{"instanceTypeName", "null-sink"}}}, 100);
  EXPECT_EQ(c.create_us, 100);
  EXPECT_EQ(c.update_us, 100);
  EXPECT_EQ(c.epoch_us, 100);
  at(cmd::Rename{"renamed"}, 200);
  EXPECT_EQ(c.update_us, 200);
  EXPECT_EQ(c.state_update_us, 100);  // a rename is not a state change
  at(cmd::Enable{}, 300);
  EXPECT_EQ(c.epoch_us, 100);  // a plain enable keeps the epoch
  at(cmd::MarkFailed{"h", "x"}, 400);
  at(cmd::Reset{Position{5, 5}}, 500);
  EXPECT_EQ(c.epoch_us, 500);
  at(cmd::Enable{Position{6, 6}}, 600);
  EXPECT_EQ(c.epoch_us, 600);
  EXPECT_EQ(c.delete_us, 0);
  at(cmd::MarkFailed{"h", "x"}, 700);
  at(cmd::Delete{}, 800);
  EXPECT_EQ(c.delete_us, 800);
  EXPECT_EQ(c.create_us, 100);
  EXPECT_EQ(c.name, "renamed");  // a deleted connector keeps what it had, for showDeleted
  at(cmd::Create{{{"instanceTypeName", "null-sink"}}}, 900);
  EXPECT_EQ(c.delete_us, 0);
  EXPECT_EQ(c.create_us, 900);
}

TEST(ConnectorTest, CheckpointsCarryTheirTime) {
  Record r;
  r.event_type = kCheckpointEvent;
  r.data = R"({"position":{"commit":9,"prepare":9},"epoch":0,"host":"h"})";
  r.created_unix_us = 1234;
  auto cp = ParseCheckpoint(r);
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->position.commit, 9u);
  EXPECT_EQ(cp->at_us, 1234);
}

TEST(ConnectorTest, SystemCommandsNeedTheirState) {
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Decide(InState(S::kStopped), cmd::MarkRunning{"h"}).status()));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Decide(InState(S::kStopped), cmd::MarkFailed{"h", "x"}).status()));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(Decide(InState(S::kRunning), cmd::MarkStopped{}).status()));
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

TEST(ConnectorTest, AFailureSchedulesARestartThatKeepsTheReasonUntilRecovery) {
  Connector c = InState(S::kRunning);
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h1", "sink failed: 400", false, 5'000'000}).ok());
  EXPECT_EQ(c.state, S::kFailed);
  EXPECT_EQ(c.error, "sink failed: 400");
  EXPECT_EQ(c.restart_attempts, 1);
  EXPECT_EQ(c.restart_at_us, 5'000'000);
  EXPECT_FALSE(c.failure_permanent);

  ASSERT_TRUE(Apply1(c, cmd::Restart{"h2"}).ok());  // the host's automatic restart
  EXPECT_EQ(c.state, S::kActivating);
  EXPECT_EQ(c.restart_at_us, 0);
  EXPECT_EQ(c.restart_revision, c.revision);
  EXPECT_EQ(c.error, "sink failed: 400");  // still the reason while it restarts
  ASSERT_TRUE(Apply1(c, cmd::MarkRunning{"h2"}).ok());
  EXPECT_EQ(c.error, "sink failed: 400");  // running is not yet recovered

  // A second failure backs off further: the attempt count goes on.
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h2", "again", false, 9'000'000}).ok());
  EXPECT_EQ(c.restart_attempts, 2);
  ASSERT_TRUE(Apply1(c, cmd::Restart{"h2"}).ok());
  ASSERT_TRUE(Apply1(c, cmd::MarkRunning{"h2"}).ok());
  ASSERT_TRUE(Apply1(c, cmd::MarkRecovered{"h2"}).ok());
  EXPECT_TRUE(c.error.empty());
  EXPECT_EQ(c.restart_attempts, 0);
  // Recovered twice writes nothing.
  EXPECT_TRUE(Decide(c, cmd::MarkRecovered{"h2"})->empty());
}

TEST(ConnectorTest, APermanentFailureIsNotRestartedAutomatically) {
  Connector c = InState(S::kActivating);
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h1", "cannot open the sink", true, 5'000'000}).ok());
  EXPECT_TRUE(c.failure_permanent);
  EXPECT_EQ(c.restart_at_us, 0);  // no schedule for a permanent failure
  EXPECT_EQ(c.restart_attempts, 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(Decide(c, cmd::Restart{"h1"}).status()));
  // An operator may still restart it, and enable clears it all.
  ASSERT_TRUE(Apply1(c, cmd::Restart{"h1", /*requested=*/true}).ok());
  EXPECT_EQ(c.state, S::kActivating);
  ASSERT_TRUE(Apply1(c, cmd::MarkFailed{"h1", "again", true}).ok());
  ASSERT_TRUE(Apply1(c, cmd::Enable{}).ok());
  EXPECT_TRUE(c.error.empty());
  EXPECT_FALSE(c.failure_permanent);
}

TEST(ConnectorTest, AutomaticRestartNeedsAScheduleAndStopCancelsIt) {
  // No restart was scheduled (restart:policy=never wrote none).
  Connector c = InState(S::kFailed);
  EXPECT_TRUE(absl::IsFailedPrecondition(Decide(c, cmd::Restart{"h1"}).status()));
  Connector d = InState(S::kRunning);
  ASSERT_TRUE(Apply1(d, cmd::MarkFailed{"h1", "x", false, 7}).ok());
  ASSERT_TRUE(Apply1(d, cmd::Disable{}).ok());
  EXPECT_EQ(d.state, S::kStopped);
  EXPECT_EQ(d.restart_at_us, 0);
  EXPECT_EQ(d.restart_attempts, 0);
  EXPECT_TRUE(d.error.empty());
  EXPECT_TRUE(absl::IsFailedPrecondition(Decide(d, cmd::Restart{"h1"}).status()));
}

TEST(ConnectorTest, RequestedRestartAndReplayReplaceTheRunner) {
  for (S state : {S::kActivating, S::kRunning, S::kFailed}) {
    Connector c = InState(state);
    ASSERT_TRUE(Apply1(c, cmd::Restart{"", true}).ok()) << ConnectorStateName(state);
    EXPECT_EQ(c.state, S::kActivating);
    EXPECT_EQ(c.restart_revision, c.revision);
  }
  for (S state : {S::kStopped, S::kDeactivating}) {
    EXPECT_TRUE(absl::IsFailedPrecondition(Decide(InState(state), cmd::Restart{"", true}).status()))
        << ConnectorStateName(state);
  }
  Connector r = InState(S::kRunning);
  ASSERT_TRUE(Apply1(r, cmd::ReplayDeadLetters{"ops"}).ok());
  EXPECT_EQ(r.replay_revision, r.revision);
  EXPECT_EQ(r.restart_revision, r.revision);
  EXPECT_EQ(r.state, S::kRunning);
  for (S state : {S::kStopped, S::kDeactivating, S::kFailed}) {
    EXPECT_TRUE(
        absl::IsFailedPrecondition(Decide(InState(state), cmd::ReplayDeadLetters{}).status()))
        << ConnectorStateName(state);
  }
}

TEST(ConnectorTest, DeadLetterStreamsFollowGenerationsAndAreNotConnectorStreams) {
  EXPECT_EQ(DeadLetterStream("c1"), "$connectors/c1/dead-letters");
  EXPECT_EQ(DeadLetterStream("c1", 3), "$connectors/c1@3/dead-letters");
  EXPECT_FALSE(ParseConnectorStream("$connectors/c1/dead-letters").has_value());
  EXPECT_FALSE(ParseConnectorStream("$connectors/c1@3/dead-letters").has_value());
  EXPECT_TRUE(ParseConnectorStream("$connectors/c1@3/checkpoints").has_value());
}

TEST(ConnectorTest, CheckpointsCarryTheDeadLetterCount) {
  Record r;
  r.event_type = kCheckpointEvent;
  r.data = R"({"position":{"commit":9,"prepare":9},"epoch":0,"host":"h",)"
           R"("deadLetters":{"count":3,"lastError":"400 Bad Request","lastAt":77}})";
  auto cp = ParseCheckpoint(r);
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->dead_letters, 3);
  EXPECT_EQ(cp->last_dead_letter_error, "400 Bad Request");
  EXPECT_EQ(cp->last_dead_letter_us, 77);
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
