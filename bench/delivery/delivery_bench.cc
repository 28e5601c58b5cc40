// Delivery throughput from the in-memory node to the null sink, with checkpoints every 1,000
// records and with checkpoints off, alternately. Prints events/s of every run, the medians and
// their ratio; asserts nothing.
//
//   esdb_delivery_bench [events=1000000] [payload_bytes=200] [rounds=5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/common/bench_args.h"
#include "bench/common/bench_log.h"
#include "bench/common/counted_sink.h"
#include "delivery/runner.h"
#include "devnode/log_node.h"
#include "hosting/process.h"
#include "sinks/plugin.h"

namespace {

using Clock = std::chrono::steady_clock;

// Runs one connector over the whole log; returns events/s.
double Deliver(esdb::devnode::LogNode& node, const esdb::SinkPlugin& plugin, bool checkpoints,
               uint64_t events, const std::string& id) {
  esdb::NodeClient client(node.api());
  esdb::RunnerOptions o;
  o.connector_id = id;
  o.host_id = "bench";
  o.settings.instance_type = "null-sink";
  o.settings.initial = esdb::InitialPosition::kEarliest;
  o.settings.autocommit_enabled = checkpoints;
  o.settings.autocommit_records_threshold = 1000;
  o.settings.batch_size = 1000;
  o.settings.batch_timeout_ms = 0;
  o.node = &client;
  o.metrics = std::make_shared<esdb::ConnectorMetrics>();
  absl::Notification delivered;
  o.open_sink = [&plugin, id, events,
                 &delivered]() -> absl::StatusOr<std::unique_ptr<esdb::Sink>> {
    auto sink = plugin.Open({id}, {}, [](auto, const std::string&) {});
    if (!sink.ok()) return sink.status();
    return std::make_unique<esdb::bench::CountedSink>(*std::move(sink), events, &delivered);
  };
  auto metrics = o.metrics;
  esdb::Runner runner(std::move(o));
  auto t0 = Clock::now();
  runner.Start();
  delivered.WaitForNotification();
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  runner.Stop();
  std::printf("  %-28s %10.0f events/s  (%.2f s, %llu checkpoints)\n",
              checkpoints ? "checkpoint every 1000:" : "checkpoints off:", events / seconds,
              seconds, static_cast<unsigned long long>(metrics->checkpoints.load()));
  return events / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  esdb::bench::PositionalArgs args(argc, argv, "[events=1000000] [payload_bytes=200] [rounds=5]",
                                   3);
  uint64_t events = args.Count(1, 1000000);
  size_t payload = args.Count(2, 200);
  uint64_t rounds = std::max<uint64_t>(1, args.Count(3, 5));
  auto plugin = esdb::SinkPlugin::Load(std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_null.so");
  if (!plugin.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plugin.status().message()).c_str());
    return 1;
  }
  auto node = esdb::devnode::LogNode::InMemory();
  std::string data = esdb::bench::Payload(payload);
  if (auto s = esdb::bench::FillLog(*node, events, data); !s.ok()) {
    std::fprintf(stderr, "load failed: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("delivery: %llu events of ~%zu bytes, in-memory node -> null-sink\n",
              static_cast<unsigned long long>(events), data.size());
  // On and off alternate, `rounds` times each, and the medians are compared: one run of each is
  // at the mercy of whatever else the machine does meanwhile.
  std::vector<double> with, without;
  for (uint64_t r = 0; r < rounds; ++r) {
    with.push_back(Deliver(*node, **plugin, true, events, absl::StrCat("bench-cp-", r)));
    without.push_back(Deliver(*node, **plugin, false, events, absl::StrCat("bench-nocp-", r)));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("  median of %llu: checkpoints on %.0f, off %.0f events/s\n",
              static_cast<unsigned long long>(rounds), median(with), median(without));
  std::printf("  ratio (checkpoints on / off): %.3f\n", median(with) / median(without));
  return 0;
}
