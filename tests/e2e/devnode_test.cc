#include "devnode_test.h"

#include <stdlib.h>
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "sink_output.h"

namespace esdb::e2e {

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string name = absl::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp", "/esdb-e2e-");
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    absl::StrAppend(&name, info->name(), "-");
  }
  absl::StrAppend(&name, "XXXXXX");
  if (::mkdtemp(name.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << name << " failed";
    return;
  }
  path_ = name;
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* keep = std::getenv("ESDB_E2E_KEEP");
  if ((info != nullptr && info->result()->Failed()) || (keep != nullptr && keep[0] == '1')) {
    std::cerr << "e2e: kept " << path_.string() << " (node logs in node/logs/)\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void DevnodeTest::SetUp() {
  ASSERT_FALSE(dir_.path().empty());
  NodeOptions options;
  options.data_dir = dir_.path() / "node";
  options.extra_args = ExtraNodeArgs();
  node_ = std::make_unique<NodeProcess>(options);
  StartNode();
}

void DevnodeTest::TearDown() {
  http_.reset();
  if (node_ && node_->running()) {
    auto stopped = node_->Stop();
    EXPECT_TRUE(stopped.ok() && stopped->CleanExit())
        << "esdb-devnode did not stop cleanly: "
        << (stopped.ok() ? stopped->ToString() : stopped.status().ToString());
  }
  if (HasFailure() && node_) std::cerr << node_->Logs();
}

void DevnodeTest::StartNode() {
  absl::Status started = node_->Start();
  ASSERT_TRUE(started.ok()) << started;
  http_ = std::make_unique<NodeHttp>(node_->port());
  Reply live = http_->Get("/health/live");
  ASSERT_EQ(live.status, 204) << live.body;
}

void DevnodeTest::StopNode() {
  http_.reset();
  auto stopped = node_->Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->CleanExit()) << stopped->ToString();
}

std::string DevnodeTest::FileSinkSettings(const std::filesystem::path& out,
                                          const std::string& extra) {
  return absl::StrCat(R"({"settings":{"instanceTypeName":"file-sink","path":")", out.string(),
                      R"(","subscription:initialPosition":"earliest")", extra, "}}");
}

bool DevnodeTest::WaitForState(const std::string& id, const std::string& state) {
  std::string last;
  if (WaitUntil([&] { return (last = http_->StateOf(id)) == state; }, absl::Seconds(30))) {
    return true;
  }
  ADD_FAILURE() << "connector " << id << " never reached " << state << "; last state '" << last
                << "': " << http_->Connector(id).body;
  return false;
}

bool DevnodeTest::WaitForLines(const std::filesystem::path& file, size_t lines) {
  size_t seen = 0;
  if (WaitUntil([&] { return (seen = CountCompleteLines(file)) >= lines; }, absl::Seconds(30))) {
    return true;
  }
  ADD_FAILURE() << file << " has " << seen << " lines, expected at least " << lines;
  return false;
}

}  // namespace esdb::e2e
