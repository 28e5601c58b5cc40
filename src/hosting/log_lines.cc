#include "hosting/log_lines.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/text.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

namespace esdb::hosting {
namespace {

// "%*": the message, its control characters escaped.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    absl::string_view text(msg.payload.data(), msg.payload.size());
    if (FindControl(text) == absl::string_view::npos) {
      dest.append(text.data(), text.data() + text.size());
    } else {
      const std::string line = OneLine(text);
      dest.append(line.data(), line.data() + line.size());
    }
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

std::unique_ptr<spdlog::formatter> Formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessage>('*').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %*");
  return formatter;
}

}  // namespace

void LogOneLinePerMessage(spdlog::logger& logger) { logger.set_formatter(Formatter()); }

void LogOneLinePerMessage() { spdlog::set_formatter(Formatter()); }

void AnnounceListening(absl::string_view scheme, absl::string_view host, int port) {
  const std::string line = absl::StrCat("listening on ", scheme, "://", host, ":", port, "\n");
  std::fwrite(line.data(), 1, line.size(), stdout);  // one locked write, as spdlog's own
  std::fflush(stdout);
}

}  // namespace esdb::hosting
