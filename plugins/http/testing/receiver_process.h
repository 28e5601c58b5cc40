// Starts esdb_http_test_receiver (receiver_main.cc) as a child process and talks to its control
// routes. For the http-sink's tests and benchmark.
#ifndef ESDB_PLUGINS_HTTP_TESTING_RECEIVER_PROCESS_H_
#define ESDB_PLUGINS_HTTP_TESTING_RECEIVER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "http/client.h"
#include "nlohmann/json.hpp"

namespace esdb::testing {

class ReceiverProcess {
 public:
  // Runs `binary` with `args` and waits (up to 10 s) for it to report its port.
  static absl::StatusOr<std::unique_ptr<ReceiverProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args = {});
  // Closes the child's stdin (it exits on that) and reaps it; kills it if it lingers.
  ~ReceiverProcess();
  ReceiverProcess(const ReceiverProcess&) = delete;
  ReceiverProcess& operator=(const ReceiverProcess&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>" + path.
  std::string Url(const std::string& path) const;

  // The control routes; see receiver_main.cc.
  absl::Status Schedule(const std::string& actions);
  absl::StatusOr<nlohmann::json> Events();
  absl::StatusOr<nlohmann::json> Requests();
  absl::StatusOr<nlohmann::json> Stats();
  // Waits until `distinct` positions are recorded or `timeout_ms` passes; returns the stats.
  absl::StatusOr<nlohmann::json> WaitDistinct(size_t distinct, int timeout_ms);

 private:
  ReceiverProcess() = default;
  absl::StatusOr<nlohmann::json> Get(const std::string& path, int timeout_ms = 10000);

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace esdb::testing

#endif  // ESDB_PLUGINS_HTTP_TESTING_RECEIVER_PROCESS_H_
