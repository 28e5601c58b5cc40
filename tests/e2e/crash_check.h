// The verdict of the crash torture: given what the file sink wrote, where the node was killed
// and what was appended, is the output what at-least-once, in-order delivery with checkpoints
// promises? Pure, so it is unit-tested on hand-made outputs (crash_check_test.cc).
#ifndef ESDB_TESTS_E2E_CRASH_CHECK_H_
#define ESDB_TESTS_E2E_CRASH_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sink_output.h"

namespace esdb::e2e {

// The node's state as seen between a SIGKILL and the restart that follows it.
struct CrashPoint {
  size_t lines = 0;                    // complete lines in the output when the node died
  size_t partial_bytes = 0;            // a line cut short by the kill
  std::optional<uint64_t> checkpoint;  // the connector's last checkpoint in the log
  uint64_t appended_position = 0;      // the last position appended (and acknowledged) by then
  uint64_t last_line_position = 0;     // of the output's last complete line (0: none)
};

struct CrashReport {
  std::vector<std::string> problems;  // empty when the output keeps every promise
  size_t replayed = 0;                // lines written again after crashes
  size_t max_replay = 0;              // the longest replay after one crash
  size_t busy_kills = 0;  // kills while the output was behind the last acknowledged append
  size_t cut_kills = 0;   // kills that left a partial line
};

// Checks, with `lines` the final output, `crashes` in kill order and `appended_ids` every event
// id whose append was acknowledged:
//  - each position always names the same event; the output's events are exactly the appended
//    ones (every appended id at least once, nothing else);
//  - between two crashes the output is in strictly increasing log order;
//  - at each crash the checkpoint exists, never went back, and never passed an event that was
//    not yet in the output;
//  - the first line after a crash is the first event after that checkpoint (delivery restarts
//    exactly there), and the lines it writes again number at most `replay_bound`;
//  - there are no duplicates other than those replays.
CrashReport CheckCrashOutput(const std::vector<OutputLine>& lines,
                             const std::vector<CrashPoint>& crashes,
                             const std::vector<std::string>& appended_ids, size_t replay_bound);

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_CRASH_CHECK_H_
