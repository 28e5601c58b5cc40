// A program of ours (esdb-devnode, esdb-connectors-sidecar) run as a child process by the
// process-level tests (tests/e2e, tests/sidecar, tests/multinode): started any number of times,
// its output kept in files, ready once it prints "listening on http(s)://host:port", and stopped
// (SIGTERM), crashed (SIGKILL), frozen (SIGSTOP) or thawed (SIGCONT) on demand. Also one-shot
// runs of a program (RunToExit) and where the build put things.
#ifndef ESDB_TESTS_E2E_CHILD_PROCESS_H_
#define ESDB_TESTS_E2E_CHILD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace esdb::e2e {

// Where the build put a program of ours (its bin folder), the connectors library and the
// plugins.
std::string BinaryPath(const std::string& name);
std::string ConnectorsLibraryPath();
std::string PluginDir();

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // it called exit(): `code` is meaningful
  int code = -1;
  int signal = 0;  // it was ended by this signal (exited is false)

  bool CleanExit() const { return exited && code == 0; }
  std::string ToString() const;
};

struct ChildOptions {
  std::string name;  // for messages, and the log files' names
  // The command line (argv[0] a path), built at every Start(), so that a restart can reuse
  // what the first run announced (its ports).
  std::function<std::vector<std::string>()> argv;
  // Run N's standard output and error go to <log_dir>/<name>-N.log (created if missing).
  std::filesystem::path log_dir;
  // The child's current folder, created if missing; empty: the test's own.
  std::filesystem::path work_dir;
  absl::Duration ready_timeout = absl::Seconds(60);
  absl::Duration stop_timeout = absl::Seconds(60);
};

// One program, started any number of times. Readiness is its "listening on http://" (or
// https://) line; "listening on grpc(s)://" gives grpc_port(). A reader thread copies the output
// and spots those lines.
//
// The child gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the thread that started it: start and
// stop it from one long-lived thread (the test's main thread). Thread-compatible: one thread
// controls a ChildProcess; the port getters may be read from others.
class ChildProcess {
 public:
  explicit ChildProcess(ChildOptions options);
  // The common case: default timeouts, the test's own folder.
  ChildProcess(std::string name, std::filesystem::path log_dir,
               std::function<std::vector<std::string>()> argv)
      : ChildProcess(ChildOptions{std::move(name), std::move(argv), std::move(log_dir)}) {}
  ~ChildProcess();  // kills (thawing it first) and reaps a child that is still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts the program and returns once it is ready. Fails, quoting the command line and the
  // run's output, when it exits first or is not ready in time (it is killed then).
  // FailedPrecondition when already running.
  absl::Status Start();
  // SIGTERM (after SIGCONT when paused), then waits for the exit; after stop_timeout it is
  // killed and DeadlineExceeded returned.
  absl::StatusOr<ExitStatus> Stop();
  // SIGKILL, then waits for the exit: a crash at whatever the program was doing.
  absl::StatusOr<ExitStatus> Kill();
  // SIGSTOP / SIGCONT. Pause() returns once the kernel reports the child stopped.
  absl::Status Pause();
  absl::Status Resume();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // of the running child; -1 when none
  int runs() const { return runs_; }
  const ChildOptions& options() const { return options_; }
  // Announced by the last run that announced one; 0 before.
  uint16_t http_port() const;
  uint16_t grpc_port() const;
  // Everything the program printed, run by run.
  std::string Logs() const;
  // Lines of Logs() that contain every one of `needles`.
  size_t CountLogLines(const std::vector<std::string>& needles) const;

 private:
  std::filesystem::path LogFile(int run) const;
  void CopyOutput(int fd, std::filesystem::path to);  // the reader thread
  // Waits up to `timeout` for the exit and reaps. DeadlineExceeded when still alive.
  absl::StatusOr<ExitStatus> Reap(absl::Duration timeout);

  const ChildOptions options_;
  pid_t pid_ = -1;
  int runs_ = 0;
  bool paused_ = false;
  std::thread reader_;

  mutable absl::Mutex mu_;
  uint16_t http_port_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t grpc_port_ ABSL_GUARDED_BY(mu_) = 0;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;          // this run announced its HTTP port
  bool output_closed_ ABSL_GUARDED_BY(mu_) = false;  // this run's output reached EOF
};

// Runs a program to completion (for one-shot invocations such as --help), capturing stdout and
// stderr. The child is killed and DeadlineExceeded returned when it runs longer than `timeout`.
struct RunResult {
  ExitStatus status;
  std::string out;
  std::string err;
};
// With `stdin_file`, the program reads that file as its standard input (else /dev/null).
absl::StatusOr<RunResult> RunToExit(const std::vector<std::string>& argv, absl::Duration timeout,
                                    const std::filesystem::path& stdin_file = {});

// The full path of `name` found in $PATH (exec here takes no search), or NotFound.
absl::StatusOr<std::string> FindProgram(const std::string& name);

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_CHILD_PROCESS_H_
