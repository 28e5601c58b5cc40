// Reading what the file sink wrote (JSON Lines, see plugins/file/README.md) while or after a
// node runs. The file's first line is the sink's header ({"esdbFileSink":{...}}); it is not a
// record, and every function here leaves it out of lines and counts.
#ifndef ESDB_TESTS_E2E_SINK_OUTPUT_H_
#define ESDB_TESTS_E2E_SINK_OUTPUT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace esdb::e2e {

struct OutputLine {
  uint64_t position = 0;
  std::string stream;
  uint64_t revision = 0;
  std::string event_id;
  std::string event_type;
};

struct SinkOutput {
  bool exists = false;
  std::string connector_id;       // from the header line
  std::vector<OutputLine> lines;  // every complete line, in file order
  // Bytes after the last '\n': a line cut short by a crash, which readers must ignore.
  size_t partial_tail_bytes = 0;
};

// Parses every complete line. The first must be the sink's header and every other one a JSON
// object with position, stream, revision and eventId; anything else is an error naming the
// line: the sink never writes one, crash or not. A missing file is an empty output with
// exists == false.
absl::StatusOr<SinkOutput> ReadSinkOutput(const std::filesystem::path& path);

// The file's shape without parsing every line: cheap enough to take at each crash.
struct OutputShape {
  size_t lines = 0;                       // complete record lines (the header not counted)
  size_t partial_tail_bytes = 0;          // bytes after the last '\n'
  std::optional<uint64_t> last_position;  // of the last complete line, if it parses
};
OutputShape InspectSinkOutput(const std::filesystem::path& path);

// Complete record lines in the file (0 when it does not exist), without parsing them.
size_t CountCompleteLines(const std::filesystem::path& path);

// Position of the last complete record line, read from the end of the file; nullopt when there
// is none.
std::optional<uint64_t> LastCompletePosition(const std::filesystem::path& path);

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_SINK_OUTPUT_H_
