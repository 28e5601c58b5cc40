// Command-line flags for the host binaries: --name=value or --name value, --help. Small on
// purpose: every flag is declared once with its help text, and --help prints exactly those.
#ifndef ESDB_HOSTING_FLAGS_H_
#define ESDB_HOSTING_FLAGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace esdb::hosting {

struct FlagSpec {
  enum class Kind {
    kValue,   // --name=value or --name value
    kSwitch,  // --name alone means "true"; --name=true|false also works, never a separate word
  };
  std::string name;  // without dashes
  std::string default_value;
  std::string help;
  Kind kind = Kind::kValue;
};

class Flags {
 public:
  Flags(std::string program, std::string summary, std::vector<FlagSpec> specs);

  // Parses argv. InvalidArgument for an unknown flag or a missing value; the caller prints the
  // message and exits 2. Sets help_requested() for -h/--help.
  absl::Status Parse(int argc, char** argv);
  // Parse() for a host's main(): when the program should stop now, prints the error (returns 2)
  // or the usage for --help (returns 0); nullopt to go on.
  std::optional<int> ParseCommandLine(int argc, char** argv);
  // Prints "<program>: <message>" to stderr and returns 1, for main() to return.
  int Fail(const std::string& message) const;
  bool help_requested() const { return help_; }
  std::string Usage() const;

  const std::string& Get(const std::string& name) const;  // the value, or its default
  // InvalidArgument naming the flag unless the value is a whole number in [min, max].
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t min, int64_t max) const;
  // A switch's value: "true"/"1" or "false"/"0" (and "" for a switch never given, false);
  // InvalidArgument naming the flag otherwise.
  absl::StatusOr<bool> GetBool(const std::string& name) const;

 private:
  std::string program_, summary_;
  std::vector<FlagSpec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, FlagSpec::Kind> kinds_;
  bool help_ = false;
};

// Sets the process log level (spdlog) from debug, info, warn or error; InvalidArgument naming
// --log-level otherwise.
absl::Status SetLogLevel(const std::string& level);

// The items of a comma-separated flag value, trimmed, empty ones dropped.
std::vector<std::string> SplitList(const std::string& value);

}  // namespace esdb::hosting

#endif  // ESDB_HOSTING_FLAGS_H_
