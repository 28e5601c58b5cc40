// http-sink throughput into a local keep-alive receiver (a separate process that counts what it
// gets), with batching:batchSize 1 (one request per event) and 500 (JSON arrays). The sink is
// driven directly through SinkPlugin::Open and Sink::Write, as the delivery loop does, so the
// figures are the plugin's and the receiver's, not the log's. Prints events/s; asserts nothing.
//
//   esdb_http_sink_bench [events_single=20000] [events_batched=500000] [payload_bytes=200]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
  auto sink = plugin.Open(
      {.connector_id = "bench", .max_batch_records = static_cast<int64_t>(batch_size)},
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

}  // namespace

int main(int argc, char** argv) {
  size_t single = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  size_t batched = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 500000;
  size_t payload = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200;
  auto plugin = esdb::SinkPlugin::Load(std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_http.so");
  if (!plugin.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plugin.status().message()).c_str());
    return 1;
  }
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
