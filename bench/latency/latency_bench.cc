// Live append -> sink latency. One connector (initialPosition latest) delivers a dev-node SQLite
// log to the bench-only latency-sink while an appender thread writes probe events at a fixed
// rate, one event per append call unless it has fallen behind (then the events due go in one
// call). Each probe carries the instant its append call started (CLOCK_MONOTONIC); the sink notes
// how long before its write() that was. Prints p50/p90/p99/p99.9/max per host and rate:
//   (a) in process: libesdb_connectors.so on the log node's own node ABI;
//   (b) side-car: the same library on the side-car's node ABI, over gRPC to the dev node's server
//       on loopback (both in this process, as esdb_sidecar_bench does).
// The appends go straight to the log node in both cases, so the figures are the delivery path's
// (subscription, runner, batching, sink call), not a client's append round trip. Asserts
// nothing; see docs/performance.md, "Latency".
//
//   esdb_latency_bench [--rates 1000,10000] [--seconds 5] [--warmup-ms 500]
//                      [--hosts in-process,side-car] [--batch-timeout-ms N] [--batch-size N]
//                      [--dir DIR] [--library PATH] [--short]
// --batch-timeout-ms / --batch-size set the connector's batching:* keys (default: the
// connector defaults). --library: another build of libesdb_connectors.so (before/after).
// --short: 1 s at 1,000 events/s per host, for CI (bench_latency_short).
#include <dlfcn.h>
#include <link.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/common/library_call.h"
#include "bench/common/loopback_sidecar.h"
#include "devnode/log_node.h"
#include "hosting/connectors_library.h"
#include "hosting/process.h"
#include "nlohmann/json.hpp"

namespace {

using esdb::bench::Call;

constexpr char kSinkFile[] = "libesdb_sink_latency.so";
constexpr char kProbeStream[] = "latency-probe";

struct Options {
  std::vector<int> rates = {1000, 10000};
  double seconds = 5;
  int warmup_ms = 500;
  bool in_process = true;
  bool side_car = true;
  std::optional<int> batch_timeout_ms;
  std::optional<int> batch_size;
  std::string dir;
  std::string library = std::string(ESDB_LIB_DIR) + "/libesdb_connectors.so";
};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void SleepUntilNs(int64_t t) {
  // Sleeps most of the way, then spins: a 100 us period is below the sleep's precision.
  int64_t left = t - NowNs();
  if (left > 200000) std::this_thread::sleep_for(std::chrono::nanoseconds(left - 150000));
  while (NowNs() < t) {
  }
}

// The plugin's sample channel (see latency_sink.c), found in the copy the library loaded: the
// library loads a private copy of each plugin (same file name, another folder), so the plugin is
// looked up among the loaded objects by its file name.
using TakeFn = size_t (*)(int64_t*, size_t);

TakeFn FindTake() {
  std::string loaded;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
        if (std::filesystem::path(name).filename() != kSinkFile) return 0;
        *static_cast<std::string*>(out) = name;
        return 1;
      },
      &loaded);
  if (loaded.empty()) return nullptr;
  void* h = dlopen(loaded.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) return nullptr;
  auto fn = reinterpret_cast<TakeFn>(dlsym(h, "esdb_latency_sink_take"));
  dlclose(h);  // the library keeps it loaded
  return fn;
}

std::vector<int64_t> TakeAll(TakeFn take) {
  std::vector<int64_t> out(take(nullptr, 0) + 1024);
  out.resize(take(out.data(), out.size()));
  return out;
}

absl::Status AppendProbes(esdb::devnode::LogNode& node, int count, const std::string& pad) {
  std::vector<esdb::devnode::AppendEvent> events;
  events.reserve(count);
  const std::string data = absl::StrCat("{\"t\":", NowNs(), ",\"pad\":\"", pad, "\"}");
  for (int i = 0; i < count; ++i)
    events.push_back({"", "LatencyProbe", "application/json", data, ""});
  return node.Append(kProbeStream, ESDB_EXPECT_ANY, std::move(events)).status();
}

double Percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]) / 1e6;
}

// One paced run at `rate`; prints its line. False when it could not run.
bool RunRate(esdb::devnode::LogNode& node, TakeFn take, const char* label, int rate,
             const Options& o) {
  const std::string pad(150, 'x');  // ~200-byte events, as the other benches
  const int64_t period = 1000000000LL / rate;
  const int64_t total = static_cast<int64_t>(o.seconds * rate);
  const int64_t warmup = static_cast<int64_t>(o.warmup_ms) * rate / 1000;
  TakeAll(take);  // anything left from before
  int64_t sent = 0, calls = 0, max_behind = 0;
  const int64_t t0 = NowNs();
  while (sent < warmup + total) {
    const int64_t due_at = t0 + sent * period;
    SleepUntilNs(due_at);
    // Everything due by now goes in this call (one event unless the appender fell behind).
    int64_t due = std::min<int64_t>((NowNs() - t0) / period + 1, warmup + total) - sent;
    if (due < 1) due = 1;
    max_behind = std::max(max_behind, due);
    if (auto s = AppendProbes(node, static_cast<int>(due), pad); !s.ok()) {
      std::fprintf(stderr, "%s: append: %s\n", label, std::string(s.message()).c_str());
      return false;
    }
    sent += due;
    ++calls;
  }
  const double append_s = static_cast<double>(NowNs() - t0) / 1e9;
  // Wait for the tail (up to 10 s), then take everything the sink saw.
  std::vector<int64_t> samples;
  const int64_t give_up = NowNs() + 10000000000LL;
  while (true) {
    size_t n = take(nullptr, 0);
    if (static_cast<int64_t>(n) >= warmup + total || NowNs() > give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  samples = TakeAll(take);
  const size_t got = samples.size();
  // The warm-up's events are the first delivered (order holds): drop them.
  samples.erase(samples.begin(),
                samples.begin() + std::min<size_t>(samples.size(), static_cast<size_t>(warmup)));
  std::sort(samples.begin(), samples.end());
  std::printf(
      "  %-10s %6d ev/s: p50 %7.3f ms  p90 %7.3f  p99 %7.3f  p99.9 %7.3f  max %7.3f  "
      "(%zu of %lld delivered; %lld append calls, %.0f ev/s achieved, worst catch-up %lld)\n",
      label, rate, Percentile(samples, 0.50), Percentile(samples, 0.90), Percentile(samples, 0.99),
      Percentile(samples, 0.999), samples.empty() ? 0.0 : samples.back() / 1e6, got,
      static_cast<long long>(warmup + total), static_cast<long long>(calls),
      static_cast<double>(sent) / append_s, static_cast<long long>(max_behind));
  return true;
}

// Hosts the library on `api`, starts one latency-sink connector at the end of the log, waits
// until a probe gets through, then runs every rate.
bool Measure(const char* label, const esdb_node_api* api, esdb::devnode::LogNode& node,
             const std::string& id, const Options& o) {
  nlohmann::json config = {{"pluginsDir", ESDB_LATENCY_PLUGIN_DIR},
                           {"logLevel", "warn"},
                           {"memberId", "devnode"},
                           {"hostId", "bench"}};
  auto lib = esdb::hosting::ConnectorsLibrary::Load(o.library, api, config.dump());
  if (!lib.ok()) {
    std::fprintf(stderr, "%s: %s\n", label, std::string(lib.status().message()).c_str());
    return false;
  }
  nlohmann::json settings = {{"instanceTypeName", "latency-sink"},
                             {"subscription:initialPosition", "latest"},
                             {"subscription:filter:scope", "stream"},
                             {"subscription:filter:filterType", "prefix"},
                             {"subscription:filter:expression", kProbeStream}};
  if (o.batch_timeout_ms) settings["batching:batchTimeoutMs"] = std::to_string(*o.batch_timeout_ms);
  if (o.batch_size) settings["batching:batchSize"] = std::to_string(*o.batch_size);
  auto created =
      Call(**lib, "POST", "/connectors/" + id, nlohmann::json{{"settings", settings}}.dump());
  if (created.status != 201) {
    std::fprintf(stderr, "%s: create: %s\n", label, created.body.c_str());
    return false;
  }
  auto enabled = Call(**lib, "POST", "/connectors/" + id + "/enable");
  if (enabled.status != 200) {
    std::fprintf(stderr, "%s: enable: %s\n", label, enabled.body.c_str());
    return false;
  }
  TakeFn take = FindTake();
  bool ok = take != nullptr;
  if (!ok) std::fprintf(stderr, "%s: the latency sink is not loaded\n", label);
  // Live once a probe appended now reaches the sink.
  const int64_t give_up = NowNs() + 30000000000LL;
  while (ok && take(nullptr, 0) == 0) {
    if (NowNs() > give_up) {
      std::fprintf(stderr, "%s: no probe reached the sink in 30 s\n", label);
      ok = false;
      break;
    }
    (void)AppendProbes(node, 1, "");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; ok && i < o.rates.size(); ++i) ok = RunRate(node, take, label, o.rates[i], o);
  Call(**lib, "POST", "/connectors/" + id + "/disable");
  Call(**lib, "DELETE", "/connectors/" + id);
  return ok;
}

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](int64_t& out) { return i + 1 < argc && absl::SimpleAtoi(argv[++i], &out); };
    int64_t v = 0;
    if (a == "--short") {
      o.rates = {1000};
      o.seconds = 1;
      o.warmup_ms = 200;
    } else if (a == "--rates" && i + 1 < argc) {
      o.rates.clear();
      for (absl::string_view r : absl::StrSplit(argv[++i], ',')) {
        int rate = 0;
        if (!absl::SimpleAtoi(r, &rate) || rate <= 0) return false;
        o.rates.push_back(rate);
      }
    } else if (a == "--seconds" && i + 1 < argc) {
      if (!absl::SimpleAtod(argv[++i], &o.seconds) || o.seconds <= 0) return false;
    } else if (a == "--warmup-ms" && value(v)) {
      o.warmup_ms = static_cast<int>(v);
    } else if (a == "--batch-timeout-ms" && value(v)) {
      o.batch_timeout_ms = static_cast<int>(v);
    } else if (a == "--batch-size" && value(v)) {
      o.batch_size = static_cast<int>(v);
    } else if (a == "--hosts" && i + 1 < argc) {
      std::string hosts = argv[++i];
      o.in_process = hosts.find("in-process") != std::string::npos;
      o.side_car = hosts.find("side-car") != std::string::npos;
    } else if (a == "--dir" && i + 1 < argc) {
      o.dir = argv[++i];
    } else if (a == "--library" && i + 1 < argc) {
      o.library = argv[++i];
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: %s [--rates 1000,10000] [--seconds 5] [--warmup-ms 500] "
                 "[--hosts in-process,side-car] [--batch-timeout-ms N] [--batch-size N] "
                 "[--dir DIR] [--library PATH] [--short]\n",
                 argv[0]);
    return 2;
  }
  const bool own_dir = o.dir.empty();
  std::filesystem::path dir = own_dir ? std::filesystem::temp_directory_path() /
                                            absl::StrCat("esdb-latency-bench-", getpid())
                                      : std::filesystem::path(o.dir);
  std::filesystem::create_directories(dir);
  auto node = esdb::devnode::LogNode::OpenSqlite((dir / "bench.db").string());
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", std::string(node.status().message()).c_str());
    return 1;
  }
  std::printf("append -> sink latency, dev node (SQLite, %s), %.1f s per rate after %d ms warm-up",
              dir.c_str(), o.seconds, o.warmup_ms);
  if (o.batch_timeout_ms) std::printf(", batching:batchTimeoutMs %d", *o.batch_timeout_ms);
  if (o.batch_size) std::printf(", batching:batchSize %d", *o.batch_size);
  std::printf("\n");
  bool ok = true;
  if (o.in_process) ok = Measure("in-process", (*node)->api(), **node, "latency-in", o) && ok;
  if (o.side_car) {
    auto sidecar = esdb::bench::LoopbackSidecar::Start(node->get());
    if (!sidecar.ok()) {
      std::fprintf(stderr, "%s\n", std::string(sidecar.status().message()).c_str());
      return 1;
    }
    ok = Measure("side-car", (*sidecar)->api(), **node, "latency-side", o) && ok;
  }
  (*node)->Shutdown();
  if (own_dir) std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
