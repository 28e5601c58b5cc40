// postgres-sink throughput into a throwaway PostgreSQL 15 server on this machine (Unix socket;
// started and removed by plugins/postgres/pg_test_server.h, as the plugin's tests do). The
// plugin is loaded with dlopen and driven through SinkPlugin::Open and Sink::Write, one batch
// after the other as the delivery loop does, so the figures are the plugin's and the server's,
// not the log's. Each run writes into a table of its own under a connector id of its own; each
// write is one transaction that also stores the position. Prints events/s; asserts nothing.
//
//   esdb_postgres_sink_bench [events=200000] [payload_bytes=60]
//   esdb_postgres_sink_bench --short      (a few thousand events: does it still run?)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/common/bench_args.h"
#include "bench/common/bench_records.h"
#include "pg_test_server.h"
#include "sinks/plugin.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<esdb::Record> MakeLog(size_t n, size_t payload) {
  std::string filler(payload > 50 ? payload - 50 : 0, 'x');
  return esdb::bench::MakeRecords(n, [&](size_t i) {
    return absl::StrCat(R"({"order":"o-)", i, R"(","total":12.5,"lines":[1,2,3],"note":")", filler,
                        R"("})");
  });
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

struct Run {
  const char* mode;
  size_t batch;
  size_t events;
};

// Delivers `events` records of `log` in batches of `run.batch`; returns events/s, or -1.
double Measure(const esdb::SinkPlugin& plugin, const esdb::pgtest::PgServer& server,
               const std::vector<esdb::Record>& log, const Run& run, int n) {
  esdb::SettingsMap settings = {{"connectionString", server.ConnectionString()},
                                {"table", absl::StrCat("bench_", n)}};
  if (std::string(run.mode) == "statements") {
    // A read model: one row per stream, upserted by every event of it.
    std::string table = absl::StrCat("bench_read_", n);
    esdb::pgtest::Db db(server.ConnectionString());
    db.Exec("CREATE TABLE " + table + " (stream text PRIMARY KEY, total numeric, at bigint)");
    settings = {{"connectionString", server.ConnectionString()},
                {"mode", "statements"},
                {"statement:*", "INSERT INTO " + table +
                                    " VALUES ($stream, $data.total::numeric, $position) "
                                    "ON CONFLICT (stream) DO UPDATE SET total = " +
                                    table + ".total + EXCLUDED.total, at = EXCLUDED.at"}};
  }
  auto sink = plugin.Open({.connector_id = absl::StrCat("bench-", n),
                           .max_batch_records = static_cast<int64_t>(run.batch)},
                          settings, [](auto, const std::string&) {});
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", std::string(sink.status().message()).c_str());
    return -1;
  }
  const size_t events = std::min(run.events, log.size());
  auto t0 = Clock::now();
  for (size_t at = 0; at < events; at += run.batch) {
    std::span<const esdb::Record> part(log.data() + at, std::min(run.batch, events - at));
    esdb::SinkResult r = (*sink)->Write(part);
    if (r.outcome != esdb::SinkOutcome::kOk) {
      std::fprintf(stderr, "write failed: %s\n", r.message.c_str());
      return -1;
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  double rate = events / seconds;
  std::printf("  %-10s batch %-4zu %10.0f events/s  (%zu events in %.2f s)\n", run.mode, run.batch,
              rate, events, seconds);
  std::fflush(stdout);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const bool is_short = argc == 2 && std::string(argv[1]) == "--short";
  size_t events = 5000, payload = 60;
  if (!is_short) {
    esdb::bench::PositionalArgs args(argc, argv, "[events=200000] [payload_bytes=60] | --short", 2);
    events = args.Count(1, 200000);
    payload = args.Count(2, 60);
  }
  auto plugin = esdb::SinkPlugin::Load(std::string(ESDB_PLUGIN_DIR) + "/libesdb_sink_postgres.so");
  if (!plugin.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plugin.status().message()).c_str());
    return 1;
  }
  esdb::pgtest::PgServer server;
  if (!server.ok()) {
    std::fprintf(stderr, "the PostgreSQL server did not start\n");
    return 1;
  }
  std::vector<esdb::Record> log = MakeLog(events, payload);
  std::printf(
      "postgres-sink -> local PostgreSQL (Unix socket), %zu-byte JSON payloads; "
      "load average %s\n",
      log[0].data.size(), LoadAverage().c_str());
  // Batch 1 costs a transaction per event: fewer events keep it short.
  const size_t few = std::max<size_t>(events / 20, 100);
  const Run runs[] = {{"append", 1, few},          {"append", 100, events},
                      {"append", 500, events},     {"statements", 1, few},
                      {"statements", 100, events}, {"statements", 500, events}};
  bool ok = true;
  int n = 0;
  for (const Run& run : runs) ok = Measure(**plugin, server, log, run, n++) > 0 && ok;
  std::printf("load average after: %s\n", LoadAverage().c_str());
  return ok ? 0 : 1;
}
