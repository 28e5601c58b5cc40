// Throughput of the log node: appends (one event per call, and big batches as a bulk load
// uses), subscription catch-up, and live fan-out to many subscriptions, for the in-memory and
// the SQLite log. Figures only; rates are per wall-clock second (the work runs on node threads,
// not the benchmark's).
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "devnode/log_node.h"

namespace esdb::devnode {
namespace {

constexpr char kPayload[] =
    R"({"orderId":"c0ffee00-0000-4000-8000-000000000000","amount":1234,"currency":"EUR"})";

// A node over a fresh store; the SQLite file is removed when the holder goes.
class BenchNode {
 public:
  explicit BenchNode(bool sqlite) {
    if (!sqlite) {
      node_ = LogNode::InMemory();
      return;
    }
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             absl::StrCat("esdb_lognode_bench_", getpid(), "_", counter++, ".db"))
                .string();
    auto node = LogNode::OpenSqlite(path_);
    if (!node.ok()) {
      std::fprintf(stderr, "cannot open %s: %s\n", path_.c_str(),
                   std::string(node.status().message()).c_str());
      std::abort();
    }
    node_ = *std::move(node);
  }
  ~BenchNode() {
    node_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove(absl::StrCat(path_, suffix).c_str());
    }
  }
  LogNode& operator*() { return *node_; }
  LogNode* operator->() { return node_.get(); }

 private:
  std::string path_;
  std::unique_ptr<LogNode> node_;
};

AppendEvent PayloadEvent() {
  AppendEvent e;
  e.event_type = "OrderPlaced";
  e.data = kPayload;
  return e;
}

// Loads `total` events into 100 streams in AppendBatch calls of `batch` events.
void Load(LogNode& node, int64_t total, int64_t batch) {
  for (int64_t done = 0; done < total; done += batch) {
    std::vector<StreamEvents> entries;
    StreamEvents entry{absl::StrCat("order-", (done / batch) % 100), ESDB_EXPECT_ANY, {}};
    entry.events.assign(static_cast<size_t>(std::min(batch, total - done)), PayloadEvent());
    entries.push_back(std::move(entry));
    if (!node.AppendBatch(std::move(entries)).ok()) std::abort();
  }
}

// One event per append call: the latency-bound path (one transaction per call).
void BM_AppendOne(benchmark::State& state) {
  BenchNode node(state.range(0) != 0);
  int64_t i = 0;
  for (auto _ : state) {
    auto result = node->Append(absl::StrCat("s-", i++ % 100), ESDB_EXPECT_ANY, {PayloadEvent()});
    benchmark::DoNotOptimize(result);
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AppendOne)->ArgName("sqlite")->Arg(0)->Arg(1)->UseRealTime();

// Bulk load: AppendBatch of range(1) events per call, range(2) events in total.
void BM_BulkLoad(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    {
      BenchNode node(state.range(0) != 0);
      state.ResumeTiming();
      Load(*node, state.range(2), state.range(1));
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.counters["events/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(2)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BulkLoad)
    ->ArgNames({"sqlite", "batch", "total"})
    ->Args({0, 1000, 1000000})
    ->Args({1, 1000, 1000000})
    ->Args({1, 10000, 1000000})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

struct CatchUp {
  absl::Notification done;
  int64_t events = 0;
};

// A subscription from the start over range(1) events: time until on_caught_up.
void BM_CatchUp(benchmark::State& state) {
  BenchNode node(state.range(0) != 0);
  Load(*node, state.range(1), 1000);
  const esdb_node_api* api = node->api();
  for (auto _ : state) {
    CatchUp catch_up;
    esdb_subscribe_options options{};
    options.struct_size = sizeof(options);
    options.from = ESDB_FROM_START;
    options.filter_scope = ESDB_FILTER_STREAM;
    const char* prefixes[] = {"order-"};
    options.filter_prefixes = prefixes;
    options.filter_prefix_count = 1;
    esdb_subscription_callbacks callbacks{};
    callbacks.struct_size = sizeof(callbacks);
    callbacks.user = &catch_up;
    callbacks.on_events = [](void* user, const esdb_recorded_event* const*, size_t count) {
      static_cast<CatchUp*>(user)->events += static_cast<int64_t>(count);
    };
    callbacks.on_caught_up = [](void* user, esdb_position) {
      static_cast<CatchUp*>(user)->done.Notify();
    };
    esdb_subscription* sub = nullptr;
    char err[256];
    if (api->subscribe_all(api->ctx, &options, &callbacks, &sub, err, sizeof(err)) !=
        ESDB_NODE_OK) {
      state.SkipWithError(err);
      return;
    }
    catch_up.done.WaitForNotification();
    api->unsubscribe_all(api->ctx, sub);
    if (catch_up.events != state.range(1)) state.SkipWithError("missed events");
  }
  state.counters["events/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(1)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CatchUp)
    ->ArgNames({"sqlite", "events"})
    ->Args({0, 200000})
    ->Args({1, 200000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

size_t ProcessThreads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

// Events delivered to a set of live subscriptions.
struct Delivered {
  std::atomic<int64_t> events{0};
  std::atomic<int64_t> caught_up{0};
};

// range(1) live subscriptions, each to its own stream prefix ("order-<i>-"); each append of one
// event matches one of them (matched = 1) or none (matched = 0). The figures: appends per
// second with that many subscriptions live, the process's threads while they are, and (matched)
// the time until the last event has reached its subscriber.
void BM_LiveFanOut(benchmark::State& state) {
  BenchNode node(state.range(0) != 0);
  const int64_t subscriptions = state.range(1);
  const bool matched = state.range(2) != 0;
  const esdb_node_api* api = node->api();
  Delivered delivered;
  std::vector<std::string> prefixes;
  std::vector<esdb_subscription*> subs;
  for (int64_t i = 0; i < subscriptions; ++i) prefixes.push_back(absl::StrCat("order-", i, "-"));
  for (int64_t i = 0; i < subscriptions; ++i) {
    esdb_subscribe_options options{};
    options.struct_size = sizeof(options);
    options.from = ESDB_FROM_END;
    options.filter_scope = ESDB_FILTER_STREAM;
    const char* prefix = prefixes[i].c_str();
    options.filter_prefixes = &prefix;
    options.filter_prefix_count = 1;
    esdb_subscription_callbacks callbacks{};
    callbacks.struct_size = sizeof(callbacks);
    callbacks.user = &delivered;
    callbacks.on_events = [](void* user, const esdb_recorded_event* const*, size_t count) {
      static_cast<Delivered*>(user)->events += static_cast<int64_t>(count);
    };
    callbacks.on_caught_up = [](void* user, esdb_position) {
      static_cast<Delivered*>(user)->caught_up++;
    };
    esdb_subscription* sub = nullptr;
    char err[256];
    if (api->subscribe_all(api->ctx, &options, &callbacks, &sub, err, sizeof(err)) !=
        ESDB_NODE_OK) {
      state.SkipWithError(err);
      return;
    }
    subs.push_back(sub);
  }
  while (delivered.caught_up.load() < subscriptions) std::this_thread::yield();
  const size_t threads = ProcessThreads();

  int64_t appended = 0;
  for (auto _ : state) {
    const std::string stream =
        matched ? absl::StrCat("order-", appended % std::max<int64_t>(subscriptions, 1), "-x")
                : absl::StrCat("other-", appended % 100);
    auto result = node->Append(stream, ESDB_EXPECT_ANY, {PayloadEvent()});
    benchmark::DoNotOptimize(result);
    ++appended;
  }
  const int64_t want = matched && subscriptions > 0 ? appended : 0;
  while (delivered.events.load() < want) std::this_thread::yield();
  state.counters["appends/s"] =
      benchmark::Counter(static_cast<double>(appended), benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(threads);
  for (esdb_subscription* sub : subs) api->unsubscribe_all(api->ctx, sub);
}
BENCHMARK(BM_LiveFanOut)
    ->ArgNames({"sqlite", "subs", "matched"})
    ->Args({0, 0, 0})
    ->Args({0, 1000, 0})
    ->Args({0, 1000, 1})
    ->Args({1, 0, 0})
    ->Args({1, 1000, 0})
    ->Args({1, 1000, 1})
    ->UseRealTime();

}  // namespace
}  // namespace esdb::devnode
