#include "hosting/flags.h"

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"

namespace esdb::hosting {

Flags::Flags(std::string program, std::string summary, std::vector<FlagSpec> specs)
    : program_(std::move(program)), summary_(std::move(summary)), specs_(std::move(specs)) {
  for (const FlagSpec& s : specs_) {
    values_[s.name] = s.default_value;
    kinds_[s.name] = s.kind;
  }
}

absl::Status Flags::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (!values_.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (!has_value && kinds_.at(name) == FlagSpec::Kind::kSwitch) {
      // A switch never takes the next word: "--insecure --db x" must not eat "--db".
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = argv[++i];
    }
    values_[name] = value;
  }
  return absl::OkStatus();
}

std::string Flags::Usage() const {
  std::string out = absl::StrCat("Usage: ", program_, " [flags]\n\n", summary_, "\n\nFlags:\n");
  for (const FlagSpec& s : specs_) {
    absl::StrAppend(&out, "  --", s.name, "\n      ", s.help);
    if (!s.default_value.empty() && s.kind == FlagSpec::Kind::kValue) {
      absl::StrAppend(&out, " (default: ", s.default_value, ")");
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help\n      Print this help and exit.\n");
  return out;
}

std::optional<int> Flags::ParseCommandLine(int argc, char** argv) {
  if (absl::Status s = Parse(argc, argv); !s.ok()) {
    std::cerr << program_ << ": " << s.message() << "\n";
    return 2;
  }
  if (help_) {
    std::cout << Usage();
    return 0;
  }
  return std::nullopt;
}

int Flags::Fail(const std::string& message) const {
  std::cerr << program_ << ": " << message << "\n";
  return 1;
}

absl::Status SetLogLevel(const std::string& level) {
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-level must be debug, info, warn or error, not '", level, "'"));
  }
  spdlog::set_level(spdlog::level::from_str(level));
  return absl::OkStatus();
}

const std::string& Flags::Get(const std::string& name) const { return values_.at(name); }

absl::StatusOr<int64_t> Flags::GetInt(const std::string& name, int64_t min, int64_t max) const {
  int64_t v = 0;
  const std::string& text = Get(name);
  if (!absl::SimpleAtoi(text, &v) || v < min || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", text, "' is not a whole number from ", min, " to ", max));
  }
  return v;
}

std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

absl::StatusOr<bool> Flags::GetBool(const std::string& name) const {
  const std::string& text = Get(name);
  if (text == "true" || text == "1") return true;
  if (text.empty() || text == "false" || text == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, ": '", text, "' is not true or false"));
}

}  // namespace esdb::hosting
