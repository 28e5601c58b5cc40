// file-sink: opening the output file so that the sink only ever writes to files it made itself.
//
// Every output file starts with a header line that names the connector it belongs to:
//   {"esdbFileSink":{"version":1,"connectorId":"<id>"}}
// A missing file is created complete with that line in one step: the line is written to a
// temporary file in the same folder, synced, and the temporary file is then linked (or, where
// the file system has no hard links, renamed without replacing) to the final name. So no crash
// can leave a file at `path` without its header, and nothing that already exists at `path` is
// ever replaced. An existing file is used only if it is a regular file that starts with this
// connector's header; anything else (another program's file, another connector's output, a
// device or a pipe) is refused before a byte of it is changed.
#ifndef ESDB_PLUGINS_FILE_OUTPUT_FILE_H_
#define ESDB_PLUGINS_FILE_OUTPUT_FILE_H_

#include <sys/types.h>

#include <string>
#include <string_view>

#include "esdb/sink.h"

namespace esdb_file_sink {

// "<what> '<path>': <strerror(error)>", e.g. "write to '/data/out.jsonl': No space left".
std::string ErrnoText(const char* what, const std::string& path, int error);

// The header line for `connector_id`, '\n' included.
std::string HeaderLine(std::string_view connector_id);

struct OutputFile {
  int fd = -1;           // opened O_RDWR | O_APPEND; the caller closes it
  off_t header_end = 0;  // size of the header line: recovery never cuts below it
  bool created = false;  // this call made the file
};

// Opens `path` for appending as `connector_id`'s output, creating it with its header when it
// does not exist. Returns OK and fills `out`; INVALID_CONFIG when the path can never work as it
// is (not our file, a directory, a missing folder, no permission); RETRY for errors that may
// pass (disk full, too many open files). `error` then says why, starting with "path: ".
esdb_sink_status OpenOutputFile(const std::string& path, std::string_view connector_id,
                                OutputFile& out, std::string& error);

}  // namespace esdb_file_sink

#endif  // ESDB_PLUGINS_FILE_OUTPUT_FILE_H_
