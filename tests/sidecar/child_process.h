// A host binary (esdb-devnode, esdb-connectors-sidecar) run as a child process by the side-car
// tests: started with a fixed command line, its output kept in files, ready once it prints
// "listening on http://host:port", and stopped (SIGTERM) or crashed (SIGKILL) on demand.
#ifndef ESDB_TESTS_SIDECAR_CHILD_PROCESS_H_
#define ESDB_TESTS_SIDECAR_CHILD_PROCESS_H_

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

namespace esdb::sidecar_test {

std::string BinaryPath(const std::string& name);  // in the build's bin folder
std::string ConnectorsLibrary();
std::string PluginDir();

// A free TCP port on 127.0.0.1 at the time of the call (for a fixed port across restarts).
absl::StatusOr<uint16_t> FreePort();

// One program, started any number of times. The command line is built at each Start() by
// `argv` (so a restart can reuse ports learnt from the first run). Output of run N goes to
// <log_dir>/<name>-N.out. The child gets SIGKILL when the starting thread ends.
//
// Thread-compatible: one thread drives it.
class ChildProcess {
 public:
  ChildProcess(std::string name, std::filesystem::path log_dir,
               std::function<std::vector<std::string>()> argv);
  ~ChildProcess();  // SIGKILL if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts and waits for the "listening on http://" line (also notes "listening on grpc://").
  absl::Status Start(absl::Duration timeout = absl::Seconds(60));
  absl::Status Stop(absl::Duration timeout = absl::Seconds(60));  // SIGTERM, wait
  absl::Status Kill();                                            // SIGKILL, wait
  bool running() const { return pid_ > 0; }

  uint16_t http_port() const;  // of the last run that got ready; 0 before
  uint16_t grpc_port() const;  // likewise, when the program printed one
  std::string Logs() const;    // every run's output

 private:
  void Copy(int fd, std::filesystem::path to);
  absl::Status Wait(absl::Duration timeout);

  const std::string name_;
  const std::filesystem::path log_dir_;
  const std::function<std::vector<std::string>()> argv_;
  pid_t pid_ = -1;
  int runs_ = 0;
  std::thread reader_;

  mutable absl::Mutex mu_;
  uint16_t http_port_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t grpc_port_ ABSL_GUARDED_BY(mu_) = 0;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace esdb::sidecar_test

#endif  // ESDB_TESTS_SIDECAR_CHILD_PROCESS_H_
