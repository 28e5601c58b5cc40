// Loads events into the dev node's SQLite log, then measures in one run (a) a raw $all scan
// through the node ABI (subscribe from the start until caught up) and (b) a connector delivering
// the same events to the null sink. Prints both rates and their ratio; asserts nothing.
//
//   esdb_devnode_bench [events=1000000] [db_dir=a fresh temp dir]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bench/common/bench_args.h"
#include "bench/common/bench_log.h"
#include "bench/common/counted_sink.h"
#include "delivery/runner.h"
#include "devnode/log_node.h"
#include "hosting/process.h"
#include "sinks/plugin.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Counts what a bare subscription sees until it is caught up.
struct Scan {
  uint64_t events = 0;
  // Not in a $-stream: what the connector delivers. A reused db_dir also holds the checkpoints
  // of earlier runs, which the connector skips.
  uint64_t user_events = 0;
  absl::Notification caught_up;
};

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  esdb::bench::PositionalArgs args(argc, argv, "[events=1000000] [db_dir=a fresh temp dir]", 2);
  uint64_t events = args.Count(1, 1000000);
  std::filesystem::path dir =
      !args.Text(2).empty()
          ? std::filesystem::path(args.Text(2))
          : std::filesystem::temp_directory_path() / absl::StrCat("esdb-bench-", getpid());
  std::filesystem::create_directories(dir);
  auto node = esdb::devnode::LogNode::OpenSqlite((dir / "bench.db").string());
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", std::string(node.status().message()).c_str());
    return 1;
  }
  std::string data = esdb::bench::Payload(196);
  auto t_load = Clock::now();
  if (auto s = esdb::bench::FillLog(**node, events, data); !s.ok()) {
    std::fprintf(stderr, "load failed: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("dev node (SQLite, %s): %llu events of ~%zu bytes loaded in %.1f s\n",
              dir.c_str(), static_cast<unsigned long long>(events), data.size(),
              Seconds(t_load));

  // (a) Raw scan through the node ABI.
  const esdb_node_api* api = (*node)->api();
  Scan scan;
  esdb_subscribe_options o{};
  o.struct_size = sizeof o;
  o.from = ESDB_FROM_START;
  esdb_subscription_callbacks cb{};
  cb.struct_size = sizeof cb;
  cb.user = &scan;
  cb.on_events = [](void* u, const esdb_recorded_event* const* e, size_t n) {
    auto* s = static_cast<Scan*>(u);
    s->events += n;
    for (size_t i = 0; i < n; ++i) s->user_events += e[i]->stream[0] != '$';
  };
  cb.on_checkpoint = [](void*, esdb_position) {};
  cb.on_caught_up = [](void* u, esdb_position) {
    auto* s = static_cast<Scan*>(u);
    if (!s->caught_up.HasBeenNotified()) s->caught_up.Notify();
  };
  cb.on_dropped = [](void*, esdb_node_status, const char*) {};
  esdb_subscription* sub = nullptr;
  char err[256];
  auto t_scan = Clock::now();
  if (api->subscribe_all(api->ctx, &o, &cb, &sub, err, sizeof err) != ESDB_NODE_OK) {
    std::fprintf(stderr, "subscribe failed: %s\n", err);
    return 1;
  }
  scan.caught_up.WaitForNotification();
  double scan_s = Seconds(t_scan);
  api->unsubscribe_all(api->ctx, sub);
  double scan_rate = scan.events / scan_s;
  std::printf("  raw $all scan (node ABI):    %10.0f events/s  (%llu events, %.2f s)\n", scan_rate,
              static_cast<unsigned long long>(scan.events), scan_s);

  // (b) A connector delivering everything to the null sink.
  auto plugin = esdb::SinkPlugin::Load(std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_null.so");
  if (!plugin.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plugin.status().message()).c_str());
    return 1;
  }
  esdb::NodeClient client(api);
  esdb::RunnerOptions r;
  r.connector_id = absl::StrCat("bench-", getpid());
  r.host_id = "bench";
  r.settings.instance_type = "null-sink";
  r.settings.initial = esdb::InitialPosition::kEarliest;
  r.settings.batch_size = 1000;
  r.settings.batch_timeout_ms = 0;
  r.node = &client;
  r.metrics = std::make_shared<esdb::ConnectorMetrics>();
  const esdb::SinkPlugin* p = plugin->get();
  absl::Notification delivered;
  uint64_t target = scan.user_events;
  r.open_sink = [p, target, &delivered]() -> absl::StatusOr<std::unique_ptr<esdb::Sink>> {
    auto sink = p->Open({"bench"}, {}, [](auto, const std::string&) {});
    if (!sink.ok()) return sink.status();
    return std::make_unique<esdb::bench::CountedSink>(*std::move(sink), target, &delivered);
  };
  auto metrics = r.metrics;
  esdb::Runner runner(std::move(r));
  auto t_deliver = Clock::now();
  runner.Start();
  delivered.WaitForNotification();
  double deliver_s = Seconds(t_deliver);
  runner.Stop();
  double deliver_rate = scan.user_events / deliver_s;
  std::printf("  connector -> null-sink:      %10.0f events/s  (%.2f s, %llu checkpoints)\n",
              deliver_rate, deliver_s, static_cast<unsigned long long>(metrics->checkpoints.load()));
  std::printf("  ratio (connector / raw scan): %.3f\n", deliver_rate / scan_rate);
  if (argc <= 2) std::filesystem::remove_all(dir);
  return 0;
}
