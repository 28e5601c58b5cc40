#include "sinks/test_support.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace esdb::testing {

std::string PluginPath(const std::string& short_name) {
  return std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_" + short_name + ".so";
}

std::string TestdataPluginPath(const std::string& short_name) {
  return std::string(ESDB_TESTDATA_PLUGIN_DIR) + "/libesdb_sink_" + short_name + ".so";
}

std::unique_ptr<SinkPlugin> LoadOrFail(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SinkPlugin>> plugin = SinkPlugin::Load(path);
  EXPECT_TRUE(plugin.ok()) << plugin.status();
  return plugin.ok() ? *std::move(plugin) : nullptr;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "esdb-sinks-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << "mkdtemp failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

SinkLogFn LogCapture::Fn() {
  return [this](esdb_sink_log_level level, const std::string& message) {
    absl::MutexLock lock(&mu_);
    lines_.emplace_back(level, message);
  };
}

std::vector<std::pair<esdb_sink_log_level, std::string>> LogCapture::Lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

std::vector<std::string> LogCapture::Messages() const {
  std::vector<std::string> messages;
  for (const auto& [level, message] : Lines()) messages.push_back(message);
  return messages;
}

Record MakeRecord(std::string stream, uint64_t revision, uint64_t commit, std::string event_type,
                  std::string data) {
  Record r;
  r.stream = std::move(stream);
  r.revision = revision;
  r.position = {commit, commit};
  r.event_id = "0c7d2f4e-1b2a-4c3d-9e8f-102030405060";
  r.event_type = std::move(event_type);
  r.content_type = "application/json";
  r.data = std::move(data);
  r.created_unix_us = 1714566605000250;  // 2024-05-01T12:30:05.000250Z
  return r;
}

}  // namespace esdb::testing
