// Helpers shared by the sinks tests: where the plugins are, temporary folders, log capture.
#ifndef ESDB_SINKS_TEST_SUPPORT_H_
#define ESDB_SINKS_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "core/record.h"
#include "sinks/plugin.h"

namespace esdb::testing {

// libesdb_sink_<short_name>.so in the real plugin folder / in the test-only folder.
std::string PluginPath(const std::string& short_name);
std::string TestdataPluginPath(const std::string& short_name);

// Loads a plugin or fails the current test (returns nullptr then).
std::unique_ptr<SinkPlugin> LoadOrFail(const std::string& path);

// A fresh directory, removed with its contents when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// Collects what sink instances log; thread-safe, as SinkLogFn must be.
class LogCapture {
 public:
  SinkLogFn Fn();
  std::vector<std::pair<esdb_sink_log_level, std::string>> Lines() const;
  // Only the messages, in order.
  std::vector<std::string> Messages() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<esdb_sink_log_level, std::string>> lines_ ABSL_GUARDED_BY(mu_);
};

Record MakeRecord(std::string stream, uint64_t revision, uint64_t commit,
                  std::string event_type = "Tested", std::string data = "{}");

}  // namespace esdb::testing

#endif  // ESDB_SINKS_TEST_SUPPORT_H_
