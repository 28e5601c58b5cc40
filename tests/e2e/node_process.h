// The real esdb-devnode binary as a child process, for end-to-end tests: started with its own
// data folder, its output captured to files, readiness taken from the "listening on http://..."
// line it prints, and stopped cleanly (SIGTERM) or crashed (SIGKILL) on demand.
#ifndef ESDB_TESTS_E2E_NODE_PROCESS_H_
#define ESDB_TESTS_E2E_NODE_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace esdb::e2e {

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // it called exit(): `code` is meaningful
  int code = -1;
  int signal = 0;  // it was ended by this signal (exited is false)

  bool CleanExit() const { return exited && code == 0; }
  std::string ToString() const;
};

// Where the build put the dev node, the connectors library and the plugins.
std::string DevnodeBinary();
std::string ConnectorsLibraryPath();
std::string PluginDir();

struct NodeOptions {
  std::string binary = DevnodeBinary();
  // Holds the SQLite log (db/devnode.db) and the captured output of every run (logs/).
  std::filesystem::path data_dir;
  // Passes --insecure (plain HTTP and gRPC, no authentication), which every test that is not
  // about security wants. Secure tests set it false and give the --tls-* flags in extra_args.
  bool insecure = true;
  // Appended to the command line after the flags the class sets itself.
  std::vector<std::string> extra_args;
  absl::Duration ready_timeout = absl::Seconds(60);
  absl::Duration stop_timeout = absl::Seconds(60);
};

// One dev node, started and stopped any number of times on the same data folder. The first
// Start() asks for a free HTTP port (--http-port 0); later starts reuse that port, so clients keep
// their address across restarts. Readiness is the "listening on http://" line, or
// "listening on https://" for a secure node. Each run's stdout goes to logs/run-N.stdout (copied by
// a reader thread that also spots the readiness line) and its stderr to logs/run-N.stderr.
//
// The child gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the thread that started it: start and
// stop a node from one long-lived thread (the test's main thread).
//
// Thread-compatible: one thread controls a NodeProcess; port() and running() may be read from
// others.
class NodeProcess {
 public:
  explicit NodeProcess(NodeOptions options);
  ~NodeProcess();  // kills (SIGKILL) and reaps a child that is still running
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts the node and returns once it has printed its HTTP "listening on" line. Fails (with the
  // run's stderr in the message) when it exits first or is not ready within ready_timeout; a
  // child that is not ready in time is killed. FailedPrecondition when already running.
  absl::Status Start();
  // SIGTERM, then waits for the exit (SIGKILL after stop_timeout, reported as an error).
  absl::StatusOr<ExitStatus> Stop();
  // SIGKILL, then waits for the exit: a crash at whatever the node was doing.
  absl::StatusOr<ExitStatus> Kill();
  // Stop() (which must be a clean exit 0), then Start() on the same data folder and port.
  absl::Status Restart();

  bool running() const;
  uint16_t port() const;              // the HTTP port; 0 before the first successful Start()
  uint16_t grpc_port() const;         // this run's announced gRPC port; 0 when it announced none
  pid_t pid() const { return pid_; }  // of the running child; -1 when none
  std::filesystem::path db_path() const { return options_.data_dir / "db" / "devnode.db"; }
  int runs() const { return runs_; }
  // Captured stdout + stderr of every run so far, run by run (for failure messages).
  std::string Logs() const;

 private:
  absl::Status Signal(int sig);
  // Reaps the child, waiting up to `timeout`. DeadlineExceeded when it is still alive.
  absl::StatusOr<ExitStatus> Reap(absl::Duration timeout);
  void CopyOutput(int fd, std::filesystem::path to);  // the reader thread
  std::vector<std::string> CommandLine(uint16_t port) const;

  const NodeOptions options_;
  pid_t pid_ = -1;
  int runs_ = 0;
  std::thread reader_;

  mutable absl::Mutex mu_;
  uint16_t port_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t ready_port_ ABSL_GUARDED_BY(mu_) = 0;     // this run's announced port; 0: not yet
  uint16_t grpc_port_ ABSL_GUARDED_BY(mu_) = 0;      // this run's announced gRPC port
  bool output_closed_ ABSL_GUARDED_BY(mu_) = false;  // this run's stdout reached EOF
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

// True when the dev node binary accepts --grpc-port (then tests pass --grpc-port 0, so that
// parallel tests never fight over the default gRPC port). Asked once, from --help.
bool DevnodeHasGrpcPort();

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_NODE_PROCESS_H_
