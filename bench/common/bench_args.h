// The positional arguments of the benchmarks that take only counts (and perhaps a path), with a
// usage line for --help and for anything that is not what the usage says.
#ifndef ESDB_BENCH_COMMON_BENCH_ARGS_H_
#define ESDB_BENCH_COMMON_BENCH_ARGS_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace esdb::bench {

class PositionalArgs {
 public:
  // `usage`: the arguments after the program name, e.g. "[events=1000000] [payload_bytes=200]".
  // --help or -h prints the usage and exits 0; more than `max_args` arguments, or another
  // argument starting with '-', prints it and exits 2.
  PositionalArgs(int argc, char** argv, const char* usage, int max_args)
      : argc_(argc), argv_(argv), usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--help" || a == "-h") Exit(0);
      if (a.starts_with("-")) Exit(2);
    }
    if (argc - 1 > max_args) Exit(2);
  }

  // Argument `i` (1-based) as a count, or `fallback` when absent; not a whole number: exit 2.
  uint64_t Count(int i, uint64_t fallback) const {
    if (i >= argc_) return fallback;
    char* end = nullptr;
    uint64_t v = std::strtoull(argv_[i], &end, 10);
    if (end == argv_[i] || *end != '\0') Exit(2);
    return v;
  }
  // Argument `i` as text, or "" when absent.
  std::string Text(int i) const { return i < argc_ ? argv_[i] : ""; }

 private:
  [[noreturn]] void Exit(int status) const {
    std::fprintf(status == 0 ? stdout : stderr, "usage: %s %s\n", argv_[0], usage_);
    std::exit(status);
  }
  int argc_;
  char** argv_;
  const char* usage_;
};

}  // namespace esdb::bench

#endif  // ESDB_BENCH_COMMON_BENCH_ARGS_H_
