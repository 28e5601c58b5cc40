#include "hosting/log_lines.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace esdb::hosting {
namespace {

TEST(LogLinesTest, AMessageIsOneLineWhateverItQuotes) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("test", sink);
  LogOneLinePerMessage(logger);
  logger.warn("the node answered: {}",
              std::string("denied\n[2026-01-01] [info] forged\0\x1b[31m", 39));
  logger.info(R"(filter ^[^$]|^$ on C:\data)");
  const std::string text = out.str();
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(
      text.find("[warning] the node answered: denied\\n[2026-01-01] [info] forged\\x00\\x1b[31m\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find(R"([info] filter ^[^$]|^$ on C:\data)"), std::string::npos) << text;
}

// The "listening on" lines that tests and scripts read stay whole while another thread logs to
// standard output at full speed.
TEST(LogLinesTest, AListeningLineIsNeverCutByALogLine) {
  const std::string path = ::testing::TempDir() + "/listening-" + std::to_string(getpid());
  std::fflush(stdout);
  const int saved = dup(1);
  ASSERT_GE(saved, 0);
  ASSERT_NE(std::freopen(path.c_str(), "w", stdout), nullptr);
  spdlog::logger logger("busy", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  std::atomic<bool> done{false};
  std::thread busy([&] {
    while (!done.load()) logger.info("connector c: a line in between");
  });
  for (int i = 0; i < 2000; ++i) AnnounceListening("http", "127.0.0.1", 2113);
  done = true;
  busy.join();
  std::fflush(stdout);
  ASSERT_EQ(dup2(saved, 1), 1);
  close(saved);
  std::ifstream in(path);
  std::string line;
  int whole = 0;
  while (std::getline(in, line)) {
    if (line.find("listening") == std::string::npos) continue;
    EXPECT_EQ(line, "listening on http://127.0.0.1:2113");
    whole += line == "listening on http://127.0.0.1:2113";
  }
  EXPECT_EQ(whole, 2000);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace esdb::hosting
