// A host program (esdb-devnode, esdb-connectors-sidecar) run as a child process by the multi-node
// tests: in a working folder of its own (so relative sink paths land there), with stdout and
// stderr appended to one log file, ready once it prints "listening on http://host:port", and
// stopped (SIGTERM), crashed (SIGKILL), frozen (SIGSTOP) or thawed (SIGCONT) on demand.
#ifndef ESDB_TESTS_MULTINODE_PROCESS_H_
#define ESDB_TESTS_MULTINODE_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace esdb::multinode {

// Where the build put a program of ours (its bin folder).
std::string BinaryPath(const std::string& name);

// A TCP port that was free on every interface at the time of the call.
absl::StatusOr<uint16_t> FreePort();

struct ProcessOptions {
  std::string name;                // for messages
  std::vector<std::string> argv;   // argv[0] is the program's path
  std::filesystem::path work_dir;  // created if missing; the child's current folder
  std::filesystem::path log_file;  // stdout + stderr of every run, appended
};

// One child process, started any number of times. The child gets PR_SET_PDEATHSIG=SIGKILL, so
// it dies with the thread that started it: drive a Process from the test's main thread.
// Thread-compatible.
class Process {
 public:
  explicit Process(ProcessOptions options) : options_(std::move(options)) {}
  ~Process();  // kills (and thaws first) a child that is still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts the program and waits for its "listening on http://" line. A child that exits first
  // or is not ready in time is reaped/killed and the error quotes the end of its log.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  // SIGTERM, then waits for the exit; an error unless it exits with code 0 in time.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(30));
  // SIGKILL, then reaps it.
  absl::Status Kill();
  // SIGSTOP / SIGCONT. Pause() returns once the kernel reports the child stopped.
  absl::Status Pause();
  absl::Status Resume();

  bool running() const { return pid_ > 0; }
  // Ports announced by the current (or last) run; 0 when it printed none.
  uint16_t http_port() const { return http_port_; }
  uint16_t grpc_port() const { return grpc_port_; }
  const std::filesystem::path& work_dir() const { return options_.work_dir; }
  // Everything the program printed so far, every run.
  std::string Log() const;
  // Lines of the log that contain every one of `needles`.
  size_t CountLogLines(const std::vector<std::string>& needles) const;

 private:
  // The port announced as "listening on <scheme>://host:port" at or after byte `from`.
  uint16_t AnnouncedPort(const std::string& log, size_t from, const std::string& scheme) const;
  std::string LogTail() const;

  const ProcessOptions options_;
  pid_t pid_ = -1;
  bool paused_ = false;
  uint16_t http_port_ = 0;
  uint16_t grpc_port_ = 0;
};

}  // namespace esdb::multinode

#endif  // ESDB_TESTS_MULTINODE_PROCESS_H_
