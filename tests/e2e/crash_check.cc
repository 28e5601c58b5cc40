#include "crash_check.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace esdb::e2e {

CrashReport CheckCrashOutput(const std::vector<OutputLine>& lines,
                             const std::vector<CrashPoint>& crashes,
                             const std::vector<std::string>& appended_ids, size_t replay_bound) {
  CrashReport report;
  constexpr size_t kMaxProblems = 20;
  auto problem = [&](std::string text) {
    if (report.problems.size() < kMaxProblems) report.problems.push_back(std::move(text));
  };

  // Identity: one event per position, and the events are exactly the appended ones.
  std::map<uint64_t, const OutputLine*> by_position;
  for (const OutputLine& line : lines) {
    auto [it, inserted] = by_position.emplace(line.position, &line);
    const OutputLine& first = *it->second;
    if (!inserted && (first.event_id != line.event_id || first.stream != line.stream ||
                      first.revision != line.revision)) {
      problem(absl::StrCat("position ", line.position, " is both ", first.event_id, " (",
                           first.stream, "@", first.revision, ") and ", line.event_id, " (",
                           line.stream, "@", line.revision, ")"));
    }
  }
  std::set<std::string> delivered;
  for (const auto& [position, line] : by_position) {
    if (!delivered.insert(line->event_id).second) {
      problem(absl::StrCat("event ", line->event_id, " appears at two positions"));
    }
  }
  const std::set<std::string> appended(appended_ids.begin(), appended_ids.end());
  size_t missing = 0, unexpected = 0;
  for (const std::string& id : appended) {
    if (!delivered.contains(id) && ++missing <= 5) problem("never delivered: " + id);
  }
  for (const std::string& id : delivered) {
    if (!appended.contains(id) && ++unexpected <= 5) problem("delivered but never appended: " + id);
  }
  if (missing > 0) problem(absl::StrCat(missing, " appended events are missing"));
  if (unexpected > 0) problem(absl::StrCat(unexpected, " delivered events were never appended"));

  // Runs: the lines written between two crashes, each in strictly increasing log order.
  std::vector<size_t> start = {0};
  for (const CrashPoint& c : crashes) start.push_back(c.lines);
  start.push_back(lines.size());
  for (size_t r = 0; r + 1 < start.size(); ++r) {
    if (start[r] > start[r + 1]) {
      problem(absl::StrCat("the output shrank from ", start[r], " to ", start[r + 1],
                           " lines (crash ", r, " to ", r + 1, ")"));
      return report;  // the runs are meaningless
    }
    for (size_t i = start[r] + 1; i < start[r + 1]; ++i) {
      if (lines[i].position <= lines[i - 1].position) {
        problem(absl::StrCat("out of order between crashes ", r, " and ", r + 1, " at line ", i + 1,
                             ": ", lines[i - 1].position, " then ", lines[i].position));
        break;
      }
    }
  }

  // Crash by crash.
  std::vector<uint64_t> distinct;  // every delivered position, ascending
  distinct.reserve(by_position.size());
  for (const auto& [position, line] : by_position) distinct.push_back(position);
  std::unordered_set<uint64_t> seen;  // positions in the lines before the current crash
  size_t scanned = 0;
  size_t low = 0;  // distinct[low] is the first delivered position not yet seen
  std::optional<uint64_t> previous;
  for (size_t k = 0; k < crashes.size(); ++k) {
    const CrashPoint& c = crashes[k];
    const std::string where = absl::StrCat("crash ", k + 1, " (after line ", c.lines, ")");
    for (; scanned < c.lines; ++scanned) seen.insert(lines[scanned].position);
    while (low < distinct.size() && seen.contains(distinct[low])) ++low;
    report.cut_kills += c.partial_bytes > 0;
    report.busy_kills += c.last_line_position < c.appended_position;
    if (!c.checkpoint) {
      problem(where + ": the enabled connector has no checkpoint");
      continue;
    }
    const uint64_t cp = *c.checkpoint;
    if (previous && cp < *previous) {
      problem(absl::StrCat(where, ": checkpoint went back from ", *previous, " to ", cp));
    }
    previous = cp;
    if (low < distinct.size() && distinct[low] <= cp) {
      problem(absl::StrCat(where, ": checkpoint ", cp, " passed position ", distinct[low],
                           ", which was not in the output yet"));
    }
    const size_t end = start[k + 2];
    if (c.lines == end) continue;  // killed again before this run wrote anything
    // Delivery restarts with the first event after the checkpoint.
    const auto next = std::upper_bound(distinct.begin(), distinct.end(), cp);
    if (next == distinct.end() || lines[c.lines].position != *next) {
      problem(absl::StrCat(
          where, ": output restarts at ", lines[c.lines].position, ", not right after checkpoint ",
          cp, (next == distinct.end() ? std::string() : absl::StrCat(" (", *next, ")"))));
    }
    // The replay: lines repeating events from before the crash, all at the start of the run.
    size_t replay = 0;
    while (c.lines + replay < end && seen.contains(lines[c.lines + replay].position)) ++replay;
    for (size_t i = c.lines + replay; i < end; ++i) {
      if (seen.contains(lines[i].position)) {
        problem(absl::StrCat(where, ": line ", i + 1, " repeats position ", lines[i].position,
                             " after new events"));
        break;
      }
    }
    if (replay > replay_bound) {
      problem(absl::StrCat(where, ": ", replay, " events delivered again after checkpoint ", cp,
                           "; at most ", replay_bound, " allowed"));
    }
    report.replayed += replay;
    report.max_replay = std::max(report.max_replay, replay);
  }
  return report;
}

}  // namespace esdb::e2e
