// The real esdb-devnode binary as a child process (child_process.h), for end-to-end tests:
// started with its own data folder and the build's library and plugins, on the same HTTP port
// across restarts.
#ifndef ESDB_TESTS_E2E_NODE_PROCESS_H_
#define ESDB_TESTS_E2E_NODE_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "child_process.h"

namespace esdb::e2e {

std::string DevnodeBinary();

struct NodeOptions {
  std::string binary = DevnodeBinary();
  // Holds the SQLite log (db/devnode.db) and the captured output of every run
  // (logs/esdb-devnode-N.log).
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
// their address across restarts. See ChildProcess for readiness, threads and failures.
class NodeProcess {
 public:
  explicit NodeProcess(NodeOptions options);

  absl::Status Start() { return child_.Start(); }
  absl::StatusOr<ExitStatus> Stop() { return child_.Stop(); }
  absl::StatusOr<ExitStatus> Kill() { return child_.Kill(); }
  // Stop() (which must be a clean exit 0), then Start() on the same data folder and port.
  absl::Status Restart();

  bool running() const { return child_.running(); }
  uint16_t port() const { return child_.http_port(); }  // 0 before the first successful Start()
  uint16_t grpc_port() const { return child_.grpc_port(); }
  pid_t pid() const { return child_.pid(); }
  std::filesystem::path db_path() const { return options_.data_dir / "db" / "devnode.db"; }
  int runs() const { return child_.runs(); }
  // Captured output of every run so far, run by run (for failure messages).
  std::string Logs() const { return child_.Logs(); }

 private:
  std::vector<std::string> CommandLine() const;

  const NodeOptions options_;
  ChildProcess child_;
};

// True when the dev node binary accepts --grpc-port (then tests pass --grpc-port 0, so that
// parallel tests never fight over the default gRPC port). Asked once, from --help.
bool DevnodeHasGrpcPort();

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_NODE_PROCESS_H_
