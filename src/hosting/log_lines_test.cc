#include "hosting/log_lines.h"

#include <sstream>

#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"

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

}  // namespace
}  // namespace esdb::hosting
