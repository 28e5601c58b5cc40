// Loads events into a dev-node SQLite log, then measures in one run the null-sink delivery rate
// of one connector hosted (a) in process, on the log node's own node ABI, and (b) through the
// side-car's node ABI over gRPC to the dev node's server on loopback. Both load the very same
// libesdb_connectors.so and drive it through its HTTP API. Before them, a bare $all subscription
// on each table (no library) shows what the protocol hop costs by itself. Prints the rates and
// their ratios; asserts nothing.
//
//   esdb_sidecar_bench [events=200000] [db_dir=a fresh temp dir]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "bench/common/bench_args.h"
#include "bench/common/bench_log.h"
#include "bench/common/library_call.h"
#include "bench/common/loopback_sidecar.h"
#include "devnode/log_node.h"
#include "hosting/connectors_library.h"
#include "hosting/process.h"
#include "nlohmann/json.hpp"

namespace {

using esdb::bench::Call;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// esdb_connector_records_delivered_total{connector="<id>"} from the metrics text.
uint64_t Delivered(const esdb::hosting::ConnectorsLibrary& lib, const std::string& id) {
  const std::string key =
      absl::StrCat("esdb_connector_records_delivered_total{connector=\"", id, "\"} ");
  const std::string text = lib.Metrics();
  size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  size_t end = text.find('\n', at);
  uint64_t n = 0;
  (void)absl::SimpleAtoi(text.substr(at + key.size(), end - at - key.size()), &n);
  return n;
}

// Hosts the library on `api`, runs one null-sink connector over the whole log and returns its
// delivery rate (events/s), or a negative value on failure.
double Measure(const char* label, const esdb_node_api* api, const std::string& id,
               uint64_t events) {
  nlohmann::json config = {{"pluginsDir", ESDB_PLUGIN_DIR},
                           {"logLevel", "warn"},
                           {"memberId", "devnode"},
                           {"hostId", "bench"}};
  auto lib = esdb::hosting::ConnectorsLibrary::Load(
      std::string(ESDB_LIB_DIR) + "/libesdb_connectors.so", api, config.dump());
  if (!lib.ok()) {
    std::fprintf(stderr, "%s: %s\n", label, std::string(lib.status().message()).c_str());
    return -1;
  }
  auto created = Call(**lib, "POST", "/connectors/" + id,
                      R"({"settings":{"instanceTypeName":"null-sink",)"
                      R"("subscription:initialPosition":"earliest"}})");
  if (created.status != 201) {
    std::fprintf(stderr, "%s: create: %s\n", label, created.body.c_str());
    return -1;
  }
  auto t0 = Clock::now();
  auto enabled = Call(**lib, "POST", "/connectors/" + id + "/enable");
  if (enabled.status != 200) {
    std::fprintf(stderr, "%s: enable: %s\n", label, enabled.body.c_str());
    return -1;
  }
  while (Delivered(**lib, id) < events) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling a counter
  }
  const double s = Seconds(t0);
  // Leave the log as it was found for the next host: the connector stopped and gone.
  Call(**lib, "POST", "/connectors/" + id + "/disable");
  Call(**lib, "DELETE", "/connectors/" + id);
  const double rate = events / s;
  std::printf("  %-28s %10.0f events/s  (%.2f s)\n", label, rate, s);
  return rate;
}

// Subscribes to $all from the start on `api`, with no library, and returns the rate at which the
// node's events reach on_events until it reports caught up (events/s), or a negative value.
double Scan(const char* label, const esdb_node_api* api) {
  struct Count {
    uint64_t events = 0;
    absl::Notification caught_up;
  } count;
  esdb_subscribe_options options{};
  options.struct_size = sizeof(options);
  options.from = ESDB_FROM_START;
  options.filter_scope = ESDB_FILTER_NONE;
  esdb_subscription_callbacks callbacks{};
  callbacks.struct_size = sizeof(callbacks);
  callbacks.user = &count;
  callbacks.on_events = [](void* user, const esdb_recorded_event* const*, size_t n) {
    static_cast<Count*>(user)->events += n;
  };
  callbacks.on_checkpoint = [](void*, esdb_position) {};
  callbacks.on_caught_up = [](void* user, esdb_position) {
    auto* c = static_cast<Count*>(user);
    if (!c->caught_up.HasBeenNotified()) c->caught_up.Notify();
  };
  callbacks.on_dropped = [](void* user, esdb_node_status, const char*) {
    auto* c = static_cast<Count*>(user);
    if (!c->caught_up.HasBeenNotified()) c->caught_up.Notify();
  };
  esdb_subscription* sub = nullptr;
  char err[256] = {};
  auto t0 = Clock::now();
  if (api->subscribe_all(api->ctx, &options, &callbacks, &sub, err, sizeof(err)) != ESDB_NODE_OK) {
    std::fprintf(stderr, "%s: %s\n", label, err);
    return -1;
  }
  count.caught_up.WaitForNotification();
  const double s = Seconds(t0);
  api->unsubscribe_all(api->ctx, sub);
  const double rate = count.events / s;
  std::printf("  %-28s %10.0f events/s  (%.2f s, %llu events)\n", label, rate, s,
              static_cast<unsigned long long>(count.events));
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  esdb::bench::PositionalArgs args(argc, argv, "[events=200000] [db_dir=a fresh temp dir]", 2);
  uint64_t events = args.Count(1, 200000);
  std::filesystem::path dir = !args.Text(2).empty()
                                  ? std::filesystem::path(args.Text(2))
                                  : std::filesystem::temp_directory_path() /
                                        absl::StrCat("esdb-sidecar-bench-", getpid());
  std::filesystem::create_directories(dir);
  auto node = esdb::devnode::LogNode::OpenSqlite((dir / "bench.db").string());
  if (!node.ok()) {
    std::fprintf(stderr, "%s\n", std::string(node.status().message()).c_str());
    return 1;
  }
  const std::string data = esdb::bench::Payload(196);
  auto t_load = Clock::now();
  if (auto s = esdb::bench::FillLog(**node, events, data); !s.ok()) {
    std::fprintf(stderr, "load failed: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("dev node (SQLite, %s): %llu events of ~%zu bytes loaded in %.1f s\n", dir.c_str(),
              static_cast<unsigned long long>(events), data.size(), Seconds(t_load));

  // The node's events without the library: a subscription on each table, to tell what the
  // protocol hop costs from what the library costs on top of it.
  const double scan_in = Scan("in-process scan (no library):", (*node)->api());

  // (a) In process: the library on the log node's own table.
  const double in_process = Measure("in-process host:", (*node)->api(), "bench-in", events);

  // (b) The side-car's table: gRPC to the dev node's server on loopback.
  auto sidecar = esdb::bench::LoopbackSidecar::Start(node->get());
  if (!sidecar.ok()) {
    std::fprintf(stderr, "%s\n", std::string(sidecar.status().message()).c_str());
    return 1;
  }
  const double scan_side = Scan("side-car scan (no library):", (*sidecar)->api());
  const double external =
      Measure("side-car (gRPC loopback):", (*sidecar)->api(), "bench-side", events);
  sidecar->reset();
  if (in_process > 0 && external > 0) {
    std::printf("  ratio (side-car / in-process): %.3f\n", external / in_process);
  }
  if (scan_in > 0 && scan_side > 0 && external > 0) {
    std::printf("  ratio (side-car scan / in-process scan): %.3f  (the protocol hop alone)\n",
                scan_side / scan_in);
    std::printf("  ratio (side-car host / side-car scan): %.3f  (the library over gRPC)\n",
                external / scan_side);
  }
  (*node)->Shutdown();
  if (argc <= 2) std::filesystem::remove_all(dir);
  return 0;
}
