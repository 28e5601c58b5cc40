#include "hosting/log_lines.h"

#include <memory>
#include <string_view>

#include "absl/strings/str_format.h"
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
    std::string_view text(msg.payload.data(), msg.payload.size());
    for (char ch : text) {
      auto c = static_cast<unsigned char>(ch);
      if (!IsControl(c)) {
        dest.push_back(ch);
        continue;
      }
      std::string escaped = c == '\n'   ? "\\n"
                            : c == '\r' ? "\\r"
                            : c == '\t' ? "\\t"
                                        : absl::StrFormat("\\x%02x", c);
      dest.append(escaped.data(), escaped.data() + escaped.size());
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

}  // namespace esdb::hosting
