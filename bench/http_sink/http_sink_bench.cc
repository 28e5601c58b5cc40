// http-sink throughput into a local keep-alive receiver (a separate process that counts what it
// gets). The sink is driven directly through SinkPlugin::Open and Sink::Write / Sink::Submit, as
// the delivery loop does, so the figures are the plugin's and the receiver's, not the log's.
// Prints events/s (and requests/s); asserts nothing.
//
//   esdb_http_sink_bench [events_single=20000] [events_batched=500000] [payload_bytes=200]
//       batching:batchSize 1 (one request per event) and 500 (JSON arrays), one write at a time.
//   esdb_http_sink_bench --latency-ms <ms> [--max-in-flight 1,4,16] [--events 4000]
//                        [--batch-size 1] [--payload 200]
//       a receiver that answers every request <ms> later, with batching:maxInFlight at each of
//       the listed values: up to that many writes outstanding, as the runner keeps them.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/common/bench_args.h"
#include "bench/common/bench_records.h"
#include "sinks/plugin.h"
#include "testing/receiver_process.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<esdb::Record> MakeLog(size_t n, size_t payload) {
  std::string filler(payload > 16 ? payload - 16 : 0, 'x');
  return esdb::bench::MakeRecords(
      n, [&](size_t i) { return absl::StrCat(R"({"n":)", i, R"(,"f":")", filler, R"("})"); });
}

// Delivers `log` in host batches of `batch_size`; returns events/s, or -1 on failure.
double Run(const esdb::SinkPlugin& plugin, const std::vector<esdb::Record>& log,
           size_t batch_size) {
  auto receiver = esdb::testing::ReceiverProcess::Start(ESDB_HTTP_RECEIVER, {"--count-only"});
  if (!receiver.ok()) {
    std::fprintf(stderr, "%s\n", std::string(receiver.status().message()).c_str());
    return -1;
  }
  auto sink =
      plugin.Open({.connector_id = "bench", .max_batch_records = static_cast<int64_t>(batch_size)},
                  {{"url", (*receiver)->Url("/events")}}, [](auto, const std::string&) {});
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", std::string(sink.status().message()).c_str());
    return -1;
  }
  auto t0 = Clock::now();
  for (size_t at = 0; at < log.size(); at += batch_size) {
    std::span<const esdb::Record> part(log.data() + at, std::min(batch_size, log.size() - at));
    esdb::SinkResult r = (*sink)->Write(part);
    if (r.outcome != esdb::SinkOutcome::kOk) {
      std::fprintf(stderr, "write failed: %s\n", r.message.c_str());
      return -1;
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto stats = (*receiver)->Stats();
  std::printf("  batching:batchSize %-4zu %10.0f events/s  (%zu events in %.2f s; %s)\n",
              batch_size, log.size() / seconds, log.size(), seconds,
              stats.ok() ? stats->dump().c_str() : "no stats");
  return log.size() / seconds;
}

// Writes outstanding on a pipelined sink, bounded as the runner bounds them.
class Outstanding {
 public:
  explicit Outstanding(size_t max) : max_(max) {}
  // Waits for room for one more; false once a write failed.
  bool Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return count_ < max_ || !failure_.empty(); });
    ++count_;
    return failure_.empty();
  }
  void Release(const esdb::SinkResult& r) {
    std::lock_guard<std::mutex> lock(mu_);
    --count_;
    if (r.outcome != esdb::SinkOutcome::kOk && failure_.empty()) {
      failure_ = r.message.empty() ? "no reason given" : r.message;
    }
    cv_.notify_all();
  }
  // Waits for every write; "" or the first failure.
  std::string Drain() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return count_ == 0; });
    return failure_;
  }

 private:
  const size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t count_ = 0;
  std::string failure_;
};

// Delivers `log` in batches of `batch_size` with up to `max_in_flight` writes outstanding to a
// receiver that answers `latency_ms` late. Prints events/s and requests/s; false on failure.
bool RunInFlight(const esdb::SinkPlugin& plugin, const std::vector<esdb::Record>& log,
                 size_t batch_size, int latency_ms, size_t max_in_flight) {
  auto receiver = esdb::testing::ReceiverProcess::Start(
      ESDB_HTTP_RECEIVER, {"--count-only", "--latency-ms", std::to_string(latency_ms)});
  if (!receiver.ok()) {
    std::fprintf(stderr, "%s\n", std::string(receiver.status().message()).c_str());
    return false;
  }
  auto sink = plugin.Open({.connector_id = "bench",
                           .max_batch_records = static_cast<int64_t>(batch_size),
                           .max_in_flight = static_cast<int64_t>(max_in_flight)},
                          {{"url", (*receiver)->Url("/events")}}, [](auto, const std::string&) {});
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", std::string(sink.status().message()).c_str());
    return false;
  }
  auto t0 = Clock::now();
  std::string failure;
  if (max_in_flight <= 1) {
    for (size_t at = 0; at < log.size() && failure.empty(); at += batch_size) {
      std::span<const esdb::Record> part(log.data() + at, std::min(batch_size, log.size() - at));
      esdb::SinkResult r = (*sink)->Write(part);
      if (r.outcome != esdb::SinkOutcome::kOk) failure = r.message;
    }
  } else {
    Outstanding outstanding(max_in_flight);
    for (size_t at = 0; at < log.size(); at += batch_size) {
      if (!outstanding.Acquire()) break;
      auto part = std::make_shared<std::vector<esdb::Record>>(
          log.begin() + at, log.begin() + std::min(at + batch_size, log.size()));
      (*sink)->Submit(std::move(part),
                      [&outstanding](esdb::SinkResult r) { outstanding.Release(r); });
    }
    failure = outstanding.Drain();
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "write failed: %s\n", failure.c_str());
    return false;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto stats = (*receiver)->Stats();
  double requests = stats.ok() ? (*stats)["deliveries"].get<double>() : 0;
  std::printf(
      "  batching:maxInFlight %-3zu %9.0f events/s %9.0f requests/s  (%zu events in "
      "%.2f s; %s)\n",
      max_in_flight, log.size() / seconds, requests / seconds, log.size(), seconds,
      stats.ok() ? stats->dump().c_str() : "no stats");
  return true;
}

int InFlightMain(const esdb::SinkPlugin& plugin, int argc, char** argv) {
  int latency_ms = 2;
  std::vector<size_t> in_flight = {1, 4, 16};
  size_t events = 4000, batch_size = 1, payload = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    bool ok = true;
    if (flag == "--latency-ms") {
      ok = absl::SimpleAtoi(value, &latency_ms) && latency_ms >= 0;
    } else if (flag == "--max-in-flight") {
      in_flight.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        size_t n = 0;
        ok &= absl::SimpleAtoi(part, &n) && n >= 1 && n <= 64;
        in_flight.push_back(n);
      }
    } else if (flag == "--events") {
      ok = absl::SimpleAtoi(value, &events) && events > 0;
    } else if (flag == "--batch-size") {
      ok = absl::SimpleAtoi(value, &batch_size) && batch_size > 0;
    } else if (flag == "--payload") {
      ok = absl::SimpleAtoi(value, &payload);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "esdb_http_sink_bench: bad option %s %s\n", flag.c_str(), value.c_str());
      return 2;
    }
  }
  std::printf(
      "http-sink -> local receiver answering %d ms late, batching:batchSize %zu, %zu-byte JSON "
      "payloads\n",
      latency_ms, batch_size, payload);
  std::vector<esdb::Record> log = MakeLog(events, payload);
  bool all = true;
  for (size_t n : in_flight) all &= RunInFlight(plugin, log, batch_size, latency_ms, n);
  return all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto plugin = esdb::SinkPlugin::Load(std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_http.so");
  if (!plugin.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plugin.status().message()).c_str());
    return 1;
  }
  static const char kUsage[] =
      "[events_single=20000] [events_batched=500000] [payload_bytes=200]\n"
      "   or: esdb_http_sink_bench --latency-ms MS [--max-in-flight 1,4,16] [--events 4000] "
      "[--batch-size 1] [--payload 200]";
  const bool help =
      argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0);
  if (argc > 1 && !help && std::strncmp(argv[1], "--", 2) == 0) {
    return InFlightMain(**plugin, argc, argv);
  }
  esdb::bench::PositionalArgs args(argc, argv, kUsage, 3);
  size_t single = args.Count(1, 20000);
  size_t batched = args.Count(2, 500000);
  size_t payload = args.Count(3, 200);
  std::printf("http-sink -> local keep-alive receiver process, %zu-byte JSON payloads\n", payload);
  std::vector<esdb::Record> log = MakeLog(std::max(single, batched), payload);
  double one = Run(**plugin, std::vector<esdb::Record>(log.begin(), log.begin() + single), 1);
  double many = Run(
      **plugin,
      log.size() == batched ? log : std::vector<esdb::Record>(log.begin(), log.begin() + batched),
      500);
  if (one > 0 && many > 0) std::printf("  batching 500 vs 1: %.1fx\n", many / one);
  return one > 0 && many > 0 ? 0 : 1;
}
