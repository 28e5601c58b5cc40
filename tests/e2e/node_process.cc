#include "node_process.h"

#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace esdb::e2e {

std::string DevnodeBinary() { return BinaryPath("esdb-devnode"); }

NodeProcess::NodeProcess(NodeOptions options)
    : options_(std::move(options)),
      child_(ChildOptions{.name = "esdb-devnode",
                          .argv = [this] { return CommandLine(); },
                          .log_dir = options_.data_dir / "logs",
                          .ready_timeout = options_.ready_timeout,
                          .stop_timeout = options_.stop_timeout}) {}

std::vector<std::string> NodeProcess::CommandLine() const {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir / "db", ec);
  std::vector<std::string> argv = {
      options_.binary, "--db", db_path().string(), "--bind", "127.0.0.1", "--http-port",
      std::to_string(child_.http_port()),  // 0 at first
      "--connectors-library", ConnectorsLibraryPath(), "--plugins-dir", PluginDir(),
      // Tests name their sinks' files in the scratch folder.
      "--sink-files-root", options_.data_dir.parent_path().string()};
  if (DevnodeHasGrpcPort()) {
    // A fresh free port each run keeps parallel tests apart.
    argv.insert(argv.end(), {"--grpc-port", "0"});
  }
  if (options_.insecure) argv.push_back("--insecure");
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

absl::Status NodeProcess::Restart() {
  auto stopped = Stop();
  if (!stopped.ok()) return stopped.status();
  if (!stopped->CleanExit()) {
    return absl::InternalError(absl::StrCat("esdb-devnode stopped with ", stopped->ToString()));
  }
  return Start();
}

bool DevnodeHasGrpcPort() {
  static const bool has = [] {
    auto help = RunToExit({DevnodeBinary(), "--help"}, absl::Seconds(60));
    return help.ok() && absl::StrContains(help->out, "--grpc-port");
  }();
  return has;
}

}  // namespace esdb::e2e
