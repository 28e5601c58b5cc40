// One message, one line, in every host process's log.
#ifndef ESDB_HOSTING_LOG_LINES_H_
#define ESDB_HOSTING_LOG_LINES_H_

#include "absl/strings/string_view.h"
#include "spdlog/logger.h"

namespace esdb::hosting {

// Gives `logger` (and, for the overload without one, every logger of the process) the usual
// "[time] [level] message" lines with the control characters of each message escaped as
// OneLine (core/text.h) writes them (\n, \r, \t, \xHH; backslashes stay as they are): a
// message may quote what a client or a node chose (a node's error text, a stream name, a user
// name), and a line break in it would forge a log line.
void LogOneLinePerMessage(spdlog::logger& logger);
void LogOneLinePerMessage();

// Writes "listening on <scheme>://<host>:<port>" and its line break to standard output in one
// write: tests and scripts read these lines while the library logs to the same stream, and a
// log line written between the pieces of one made it unreadable.
void AnnounceListening(absl::string_view scheme, absl::string_view host, int port);

}  // namespace esdb::hosting

#endif  // ESDB_HOSTING_LOG_LINES_H_
