// The GoogleTest fixture shared by the end-to-end tests: a scratch folder per test and one real
// dev node started in it, with a client on its HTTP port.
#ifndef ESDB_TESTS_E2E_DEVNODE_TEST_H_
#define ESDB_TESTS_E2E_DEVNODE_TEST_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "node_http.h"
#include "node_process.h"

namespace esdb::e2e {

// A fresh folder under $TMPDIR (or /tmp). Removed when the test passed; kept, and its path
// printed, when it failed or ESDB_E2E_KEEP=1, so the node's logs and output can be read.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class DevnodeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Flags SetUp adds to the node's command line (e.g. another --plugins-dir); none by default.
  virtual std::vector<std::string> ExtraNodeArgs() const { return {}; }

  // Starts the node (again) and re-points http() at it. ASSERT-style: the test stops on failure.
  void StartNode();
  // SIGTERM; expects exit code 0.
  void StopNode();

  NodeHttp& http() { return *http_; }
  NodeProcess& node() { return *node_; }
  std::filesystem::path Path(const std::string& name) const { return dir_.path() / name; }

  // file-sink settings with the given output file, delivering every non-system event from the
  // start of the log; `extra` is appended inside the settings object (",\"key\":\"value\"...").
  std::string FileSinkSettings(const std::filesystem::path& out, const std::string& extra = "");

  // Waits (up to 30 s) until GET /connectors/{id} reports `state`; adds a failure otherwise.
  bool WaitForState(const std::string& id, const std::string& state);
  // Waits (up to 30 s) until the file has at least `lines` complete lines.
  bool WaitForLines(const std::filesystem::path& file, size_t lines);

  ScratchDir dir_;
  std::unique_ptr<NodeProcess> node_;
  std::unique_ptr<NodeHttp> http_;
};

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_DEVNODE_TEST_H_
