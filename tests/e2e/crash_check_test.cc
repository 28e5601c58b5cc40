// The torture's verdict on hand-made outputs: it accepts what the promises allow and names each
// way of breaking them (so the torture would fail if delivery broke).
#include "crash_check.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Id(uint64_t position) { return absl::StrCat("id-", position); }

// Lines for the given positions; position p is event Id(p) at revision p of stream "s".
std::vector<OutputLine> Lines(std::initializer_list<std::vector<uint64_t>> runs) {
  std::vector<OutputLine> lines;
  for (const auto& run : runs) {
    for (uint64_t p : run) lines.push_back({p, "s", p, Id(p), "T"});
  }
  return lines;
}

std::vector<std::string> Ids(uint64_t first, uint64_t last) {
  std::vector<std::string> ids;
  for (uint64_t p = first; p <= last; ++p) ids.push_back(Id(p));
  return ids;
}

CrashPoint Crash(size_t lines, std::optional<uint64_t> checkpoint) {
  CrashPoint c;
  c.lines = lines;
  c.checkpoint = checkpoint;
  return c;
}

std::string AllProblems(const CrashReport& r) {
  std::string all;
  for (const std::string& p : r.problems) absl::StrAppend(&all, p, "\n");
  return all;
}

TEST(CrashCheckTest, AcceptsReplaysFromTheCheckpoint) {
  // 1..6, crash with checkpoint 4, then 5..10 (5 and 6 again).
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3, 4, 5, 6}, {5, 6, 7, 8, 9, 10}}), {Crash(6, 4)},
                                   Ids(1, 10), 2);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.replayed, 2u);
  EXPECT_EQ(r.max_replay, 2u);
}

TEST(CrashCheckTest, AcceptsRunsWithoutOutputAndCrashesWithoutReplay) {
  CrashReport r =
      CheckCrashOutput(Lines({{1, 2, 3}, {}, {4, 5}}), {Crash(3, 3), Crash(3, 3)}, Ids(1, 5), 0);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_EQ(r.replayed, 0u);
}

TEST(CrashCheckTest, ALostEventIsReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3}, {5, 6}}), {Crash(3, 3)}, Ids(1, 6), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("never delivered: id-4"));
}

TEST(CrashCheckTest, AForeignEventIsReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3}}), {}, Ids(1, 2), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("never appended: id-3"));
}

TEST(CrashCheckTest, AReplayLongerThanTheBoundIsReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3, 4, 5, 6}, {2, 3, 4, 5, 6, 7}}), {Crash(6, 1)},
                                   Ids(1, 7), 3);
  EXPECT_THAT(AllProblems(r), HasSubstr("5 events delivered again"));
}

TEST(CrashCheckTest, ARestartBeforeTheCheckpointIsReported) {
  CrashReport r =
      CheckCrashOutput(Lines({{1, 2, 3, 4, 5, 6}, {3, 4, 5, 6, 7}}), {Crash(6, 4)}, Ids(1, 7), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("output restarts at 3, not right after checkpoint 4"));
}

TEST(CrashCheckTest, ARestartAfterTheCheckpointIsReported) {
  // Skipping 5 and 6 on restart would lose them had they not been written before the crash.
  CrashReport r =
      CheckCrashOutput(Lines({{1, 2, 3, 4, 5, 6}, {7, 8}}), {Crash(6, 4)}, Ids(1, 8), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("output restarts at 7, not right after checkpoint 4"));
}

TEST(CrashCheckTest, ACheckpointAheadOfTheOutputLosesEventsAndIsReported) {
  // Checkpoint 6 although only 1..4 were written: the restart skips 5 and 6.
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3, 4}, {7, 8}}), {Crash(4, 6)}, Ids(1, 8), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("never delivered: id-5"));
  EXPECT_THAT(AllProblems(r), HasSubstr("never delivered: id-6"));
}

TEST(CrashCheckTest, ACheckpointAheadOfAnEventThatCameLaterIsReported) {
  // 5 reached the output only after the crash, yet the checkpoint before it covered it.
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3, 4}, {5, 6}}), {Crash(4, 5)}, Ids(1, 6), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("checkpoint 5 passed position 5"));
}

TEST(CrashCheckTest, ACheckpointGoingBackIsReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3, 4}, {3, 4, 5}, {5, 6}}),
                                   {Crash(4, 4), Crash(7, 2)}, Ids(1, 6), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("checkpoint went back from 4 to 2"));
}

TEST(CrashCheckTest, DisorderBetweenCrashesIsReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 4, 3, 5}}), {}, Ids(1, 5), 10);
  EXPECT_THAT(r.problems, ElementsAre(HasSubstr("out of order between crashes 0 and 1 at line 4")));
}

TEST(CrashCheckTest, DuplicatesWithoutACrashAreReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 2, 3}}), {}, Ids(1, 3), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("out of order"));
}

TEST(CrashCheckTest, APositionNamingTwoEventsIsReported) {
  std::vector<OutputLine> lines = Lines({{1, 2, 3}, {2, 3}});
  lines[3].event_id = "other";
  CrashReport r = CheckCrashOutput(lines, {Crash(3, 1)}, Ids(1, 3), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("position 2 is both id-2"));
}

TEST(CrashCheckTest, AMissingCheckpointIsReported) {
  CrashReport r =
      CheckCrashOutput(Lines({{1, 2}, {1, 2}}), {Crash(2, std::nullopt)}, Ids(1, 2), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("no checkpoint"));
}

TEST(CrashCheckTest, AShrinkingOutputIsReported) {
  CrashReport r = CheckCrashOutput(Lines({{1, 2, 3}}), {Crash(5, 1)}, Ids(1, 3), 10);
  EXPECT_THAT(AllProblems(r), HasSubstr("shrank"));
}

}  // namespace
}  // namespace esdb::e2e
