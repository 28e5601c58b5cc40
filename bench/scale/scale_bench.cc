// Scale: a real esdb-devnode process (--insecure) with N null-sink connectors, half of them with
// a prefix filter that matches nothing and half with no filter, plus one file-sink "probe"
// connector whose output file shows when each live event reached its sink. Prints one line per
// figure: create and enable time, idle CPU and log growth, RSS, threads, the listing's latency,
// append-to-sink latency at a fixed rate, and the shutdown after SIGTERM with its final
// checkpoints. Asserts nothing: a phase that does not end in time is printed as "not finished
// after X s" and the run goes on. See docs/performance.md, "Scale".
//
//   esdb_scale_bench [--connectors 1000] [--settle-seconds 5] [--idle-seconds 30]
//                    [--latency-seconds 10] [--rate 1000] [--unfiltered-percent 50]
//                    [--list-samples 5]
//                    [--timeout 600] [--shutdown-timeout 120] [--dir DIR] [--keep] [--short]
//                    [--latencies FILE]
//
// --latencies writes a line per live event: its number, when it was sent (ms after the live
// phase began), how long its append request took and how long until the probe's sink had it
// (ms; -1 if never), to see when in the phase the slow ones came.
#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "devnode/log_node.h"
#include "hosting/process.h"
#include "nlohmann/json.hpp"
#include "node_http.h"
#include "node_process.h"

namespace {

using esdb::e2e::NodeHttp;
using esdb::e2e::Reply;
using nlohmann::json;

constexpr char kProbe[] = "scale-probe";
constexpr char kProbeStream[] = "scale-probe-1";
constexpr int kAppendClients = 4;  // concurrent HTTP clients appending the live events

struct Options {
  int connectors = 1000;
  int idle_seconds = 30;
  int settle_seconds = 5;  // after all are RUNNING, before the idle window
  int latency_seconds = 10;
  int rate = 1000;  // live appends per second
  int unfiltered_percent = 50;
  int list_samples = 5;
  int timeout_seconds = 600;  // per phase: enable, delivery, settling
  int shutdown_timeout_seconds = 120;
  std::string dir;
  std::string latencies;  // file for the per-event figures of the live phase
  bool keep = false;
};

void Usage() {
  std::fprintf(stderr,
               "usage: esdb_scale_bench [--connectors N] [--settle-seconds S] [--idle-seconds S]\n"
               "         [--latency-seconds S] [--rate EVENTS_PER_S] [--unfiltered-percent P]\n"
               "         [--list-samples K] [--timeout S] [--shutdown-timeout S] [--dir DIR] "
               "[--keep] [--short]\n"
               "         [--latencies FILE]\n");
}

// --name value or --name=value. False (after printing why) on anything else.
bool ParseFlags(int argc, char** argv, Options& o) {
  std::map<std::string, int*> ints = {{"connectors", &o.connectors},
                                      {"idle-seconds", &o.idle_seconds},
                                      {"settle-seconds", &o.settle_seconds},
                                      {"latency-seconds", &o.latency_seconds},
                                      {"rate", &o.rate},
                                      {"unfiltered-percent", &o.unfiltered_percent},
                                      {"list-samples", &o.list_samples},
                                      {"timeout", &o.timeout_seconds},
                                      {"shutdown-timeout", &o.shutdown_timeout_seconds}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!absl::StartsWith(arg, "--")) {
      std::fprintf(stderr, "unexpected argument '%s'\n", arg.c_str());
      return false;
    }
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "short") {
      // For CI: a few connectors and short windows, enough to prove the bench still runs.
      o.connectors = 20;
      o.idle_seconds = 3;
      o.settle_seconds = 1;
      o.latency_seconds = 2;
      o.rate = 200;
      o.list_samples = 3;
      o.timeout_seconds = 120;
      o.shutdown_timeout_seconds = 60;
      continue;
    }
    if (name == "keep") {
      o.keep = true;
      continue;
    }
    if (name != "dir" && name != "latencies" && !ints.contains(name)) {
      std::fprintf(stderr, "unknown flag --%s\n", name.c_str());
      return false;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "--%s needs a value\n", name.c_str());
        return false;
      }
      value = argv[++i];
    }
    if (name == "dir") {
      o.dir = value;
    } else if (name == "latencies") {
      o.latencies = value;
    } else if (int* field = ints[name]; !absl::SimpleAtoi(value, field) || *field < 0) {
      std::fprintf(stderr, "--%s: '%s' is not a whole number >= 0\n", name.c_str(), value.c_str());
      return false;
    }
  }
  if (o.connectors < 1 || o.rate < 1 || o.unfiltered_percent > 100 || o.list_samples < 1) {
    std::fprintf(stderr,
                 "--connectors, --rate and --list-samples must be >= 1, "
                 "--unfiltered-percent at most 100\n");
    return false;
  }
  return true;
}

void Progress(const std::string& line) { std::fprintf(stderr, "scale: %s\n", line.c_str()); }

void Figure(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string Secs(absl::Duration d) { return absl::StrFormat("%.2f s", absl::ToDoubleSeconds(d)); }
std::string Ms(double seconds) { return absl::StrFormat("%.2f ms", seconds * 1000); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// user + system CPU time of the process so far.
absl::Duration CpuTime(pid_t pid) {
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return absl::ZeroDuration();
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 2), ' ');
  // After ")": state is field 3 of stat(5), so utime (14) and stime (15) are at 11 and 12.
  int64_t utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) || !absl::SimpleAtoi(f[12], &stime)) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK));
}

// A "Name:   value ..." line of /proc/<pid>/status as a number (kB for the Vm* lines).
int64_t StatusField(pid_t pid, const std::string& name) {
  std::istringstream in(ReadFile(absl::StrCat("/proc/", pid, "/status")));
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, name + ":")) continue;
    std::vector<std::string> words =
        absl::StrSplit(line.substr(name.size() + 1), ' ', absl::SkipWhitespace());
    int64_t v = 0;
    if (!words.empty() && absl::SimpleAtoi(words[0], &v)) return v;
  }
  return -1;
}

uint64_t LastPosition(NodeHttp& http) {
  Reply r = http.Get("/info");
  if (r.status != 200 || !r.json.is_object()) return 0;
  return r.json.value("lastPosition", uint64_t{0});
}

// How many connectors are in `state` (the listing's total), -1 when the node did not answer.
int64_t CountInState(NodeHttp& http, const std::string& state) {
  Reply r = http.Get("/connectors?take=1&state=" + state);
  if (r.status != 200 || !r.json.is_object()) return -1;
  return r.json.value("total", int64_t{-1});
}

// Waits (polling every `every`) until `done` or the deadline; the time it took, or nullopt.
std::optional<absl::Duration> TimeUntil(const std::function<bool()>& done, absl::Time start,
                                        absl::Duration timeout, absl::Duration every) {
  while (true) {
    if (done()) return absl::Now() - start;
    if (absl::Now() - start >= timeout) return std::nullopt;
    absl::SleepFor(every);  // another process's state: nothing to wait on here
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// "$connectors/x/checkpoints" -> "$connectors/*/checkpoints"; other names as they are.
std::string StreamKind(const std::string& stream) {
  const std::string prefix = "$connectors/";
  if (!absl::StartsWith(stream, prefix)) return stream;
  size_t slash = stream.find('/', prefix.size());
  return slash == std::string::npos ? "$connectors/*" : "$connectors/*" + stream.substr(slash);
}

std::string KindsLine(const std::map<std::string, uint64_t>& kinds) {
  if (kinds.empty()) return "nothing";
  std::vector<std::pair<uint64_t, std::string>> sorted;
  for (const auto& kv : kinds) sorted.emplace_back(kv.second, kv.first);
  std::sort(sorted.rbegin(), sorted.rend());
  std::string out;
  for (const auto& kv : sorted)
    absl::StrAppend(&out, out.empty() ? "" : ", ", kv.second, " ", kv.first);
  return out;
}

// Watches the probe's file-sink output with inotify and notes when each record line (by its
// data.n) first appears. The file sink writes one line per record with fsync off, so what is
// measured is the host's path from the append to the sink's write(2), plus inotify's wake-up.
class ProbeReader {
 public:
  ProbeReader(std::string path, size_t expected)
      : path_(std::move(path)), seen_(expected, absl::InfinitePast()) {}
  ~ProbeReader() { Stop(); }

  bool Start() {
    fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd_ < 0 || inotify_add_watch(fd_, path_.c_str(), IN_MODIFY) < 0) return false;
    thread_ = std::thread([this] { Run(); });
    return true;
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  size_t count() const { return count_.load(); }
  // Valid after Stop().
  const std::vector<absl::Time>& seen() const { return seen_; }

 private:
  void Run() {
    std::ifstream in(path_, std::ios::binary);
    std::string partial;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char events[4096];
      while (read(fd_, events, sizeof events) > 0) {
      }
      in.clear();
      std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const absl::Time now = absl::Now();
      partial += chunk;
      size_t start = 0;
      for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        json line = json::parse(partial.substr(start, nl - start), nullptr, false);
        if (!line.is_object() || !line.contains("data") || !line["data"].is_object()) continue;
        uint64_t n = line["data"].value("n", uint64_t{UINT64_MAX});
        if (n < seen_.size() && seen_[n] == absl::InfinitePast()) {
          seen_[n] = now;
          ++count_;
        }
      }
      partial.erase(0, start);
    }
  }

  const std::string path_;
  std::vector<absl::Time> seen_;
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> count_{0};
};

// esdb_connector_records_delivered_total per connector, from /metrics.
std::map<std::string, uint64_t> Delivered(NodeHttp& http) {
  std::map<std::string, uint64_t> out;
  Reply r = http.Get("/metrics");
  std::istringstream in(r.body);
  const std::string name = "esdb_connector_records_delivered_total{";
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, name)) continue;
    size_t q1 = line.find("connector=\"");
    size_t end = line.find('}');
    if (q1 == std::string::npos || end == std::string::npos) continue;
    q1 += 11;
    size_t q2 = line.find('"', q1);
    uint64_t v = 0;
    if (q2 != std::string::npos &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(end + 1)), &v)) {
      out[line.substr(q1, q2 - q1)] = v;
    }
  }
  return out;
}

std::string ConnectorId(int i) { return absl::StrCat("scale-", i); }
bool Unfiltered(int i, const Options& o) {
  // Spread evenly: with 50 %, every second connector.
  return (i * o.unfiltered_percent) / 100 != ((i + 1) * o.unfiltered_percent) / 100;
}

int Run(const Options& o, const std::filesystem::path& dir) {
  esdb::e2e::NodeOptions node_options;
  node_options.data_dir = dir / "node";
  node_options.stop_timeout = absl::Seconds(o.shutdown_timeout_seconds);
  esdb::e2e::NodeProcess node(node_options);
  if (absl::Status s = node.Start(); !s.ok()) {
    std::fprintf(stderr, "the dev node did not start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const pid_t pid = node.pid();
  NodeHttp http(node.port(), /*timeout_ms=*/120000);
  int unfiltered = 0;
  for (int i = 0; i < o.connectors; ++i) unfiltered += Unfiltered(i, o) ? 1 : 0;
  Figure(absl::StrCat("setup: esdb-devnode --insecure (pid ", pid, ", data in ", dir.string(),
                      "); ", o.connectors, " null-sink connectors (", o.connectors - unfiltered,
                      " with a prefix filter matching nothing, ", unfiltered,
                      " unfiltered) + 1 file-sink probe"));

  // The probe first, outside the timed figures.
  const std::string probe_file = (dir / "probe.jsonl").string();
  json probe_settings = {{"instanceTypeName", "file-sink"},
                         {"path", probe_file},
                         {"fsync", "false"},
                         {"subscription:filter:filterType", "prefix"},
                         {"subscription:filter:expression", "scale-probe-"},
                         {"subscription:initialPosition", "earliest"},
                         {"batching:batchTimeoutMs", "0"}};
  if (Reply r = http.Post(absl::StrCat("/connectors/", kProbe),
                          json{{"settings", probe_settings}}.dump());
      r.status != 201) {
    std::fprintf(stderr, "creating the probe failed: %d %s\n", r.status, r.body.c_str());
    return 1;
  }

  const absl::Duration timeout = absl::Seconds(o.timeout_seconds);
  if (Reply r = http.Post(absl::StrCat("/connectors/", kProbe, "/enable")); r.status != 200) {
    std::fprintf(stderr, "enabling the probe failed: %d %s\n", r.status, r.body.c_str());
    return 1;
  }
  if (!TimeUntil([&] { return http.StateOf(kProbe) == "RUNNING"; }, absl::Now(), timeout,
                 absl::Milliseconds(50))) {
    std::fprintf(stderr, "the probe is not RUNNING after %d s: %s\n", o.timeout_seconds,
                 http.Connector(kProbe).body.c_str());
    return 1;
  }

  // Create, then enable, one by one.
  absl::Time t = absl::Now();
  for (int i = 0; i < o.connectors; ++i) {
    json settings = {{"instanceTypeName", "null-sink"}};
    if (!Unfiltered(i, o)) {
      settings["subscription:filter:filterType"] = "prefix";
      settings["subscription:filter:expression"] = absl::StrCat("scale-idle-", i, "-");
    }
    Reply r = http.Post("/connectors/" + ConnectorId(i), json{{"settings", settings}}.dump());
    if (r.status != 201) {
      std::fprintf(stderr, "creating %s failed: %d %s\n", ConnectorId(i).c_str(), r.status,
                   r.body.c_str());
      return 1;
    }
  }
  Figure(absl::StrCat("create ", o.connectors, " (one by one): ", Secs(absl::Now() - t)));

  Progress("enabling");
  t = absl::Now();
  for (int i = 0; i < o.connectors; ++i) {
    const std::string id = ConnectorId(i);
    Reply r = http.Post("/connectors/" + id + "/enable");
    if (r.status != 200) {
      std::fprintf(stderr, "enabling %s failed: %d %s\n", id.c_str(), r.status, r.body.c_str());
      return 1;
    }
  }
  const absl::Duration requests = absl::Now() - t;
  int64_t running = 0;
  auto enabled =
      TimeUntil([&] { return (running = CountInState(http, "RUNNING")) >= o.connectors + 1; }, t,
                timeout, absl::Milliseconds(250));
  Figure(enabled ? absl::StrCat("enable ", o.connectors, " (one by one) until all RUNNING: ",
                                Secs(*enabled), " (the requests took ", Secs(requests), ")")
                 : absl::StrCat("enable ", o.connectors, ": not finished after ", o.timeout_seconds,
                                " s (", running - 1, " RUNNING)"));

  // Idle: after the start-ups have settled, no requests to the node during the window, only
  // /proc reads.
  Progress(
      absl::StrCat("settling for ", o.settle_seconds, " s, then idle for ", o.idle_seconds, " s"));
  absl::SleepFor(absl::Seconds(o.settle_seconds));
  const uint64_t idle_from = LastPosition(http);
  const absl::Duration cpu0 = CpuTime(pid);
  const absl::Time idle_start = absl::Now();
  absl::SleepFor(absl::Seconds(o.idle_seconds));  // the observation window itself
  const absl::Duration cpu1 = CpuTime(pid);
  const absl::Duration idle_wall = absl::Now() - idle_start;
  const uint64_t idle_to = LastPosition(http);
  const double idle_s = absl::ToDoubleSeconds(idle_wall);
  Figure(absl::StrFormat("idle CPU: %.1f %% of one core over %.1f s",
                         100 * absl::ToDoubleSeconds(cpu1 - cpu0) / idle_s, idle_s));
  Figure(absl::StrFormat("idle log growth: %.1f events/s (%d events in %.1f s)",
                         static_cast<double>(idle_to - idle_from) / idle_s,
                         static_cast<int>(idle_to - idle_from), idle_s));
  Figure(absl::StrCat("RSS: ", StatusField(pid, "VmRSS") / 1024, " MiB (peak ",
                      StatusField(pid, "VmHWM") / 1024, " MiB)"));
  Figure(absl::StrCat("threads: ", StatusField(pid, "Threads")));

  std::vector<double> lists;
  int64_t items = 0;
  for (int i = 0; i < o.list_samples; ++i) {
    absl::Time t0 = absl::Now();
    Reply r = http.Get("/connectors?take=1000");
    lists.push_back(absl::ToDoubleSeconds(absl::Now() - t0));
    if (r.status == 200 && r.json.contains("items")) items = r.json["items"].size();
  }
  Figure(absl::StrCat("GET /connectors?take=1000: ", Ms(Percentile(lists, 0.5)), " median of ",
                      lists.size(), " (min ", Ms(*std::min_element(lists.begin(), lists.end())),
                      ", max ", Ms(*std::max_element(lists.begin(), lists.end())), "; ", items,
                      " items)"));

  // Live: one event per append at a fixed rate to the probe's stream.
  const size_t count = static_cast<size_t>(o.latency_seconds) * o.rate;
  Progress(absl::StrCat("appending ", count, " events at ", o.rate, "/s"));
  ProbeReader probe(probe_file, count);
  (void)TimeUntil([&] { return std::filesystem::exists(probe_file); }, absl::Now(), timeout,
                  absl::Milliseconds(50));  // the sink makes it when it opens
  if (!probe.Start()) {
    std::fprintf(stderr, "cannot watch %s\n", probe_file.c_str());
    return 1;
  }
  // A few clients share the schedule: event i is due at i / rate, and the next free client
  // sends it, so one slow append does not hold back the ones due after it.
  std::vector<absl::Time> sent(count), answered(count);
  std::atomic<size_t> next{0}, failed{0};
  std::atomic<uint64_t> last_appended{0};
  const absl::Time live_start = absl::Now();
  const absl::Duration live_cpu0 = CpuTime(pid);
  std::vector<std::thread> clients;
  for (int c = 0; c < kAppendClients; ++c) {
    clients.emplace_back([&, port = node.port()] {
      NodeHttp client(port, /*timeout_ms=*/120000);
      for (size_t i; (i = next++) < count;) {
        absl::Time due = live_start + absl::Seconds(static_cast<double>(i) / o.rate);
        if (absl::Time now = absl::Now(); due > now) absl::SleepFor(due - now);  // pacing
        sent[i] = absl::Now();
        Reply r = esdb::e2e::AppendEvents(
            client, kProbeStream, {{esdb::e2e::TestEventId(7, i), "ProbeEvent", json{{"n", i}}}});
        answered[i] = absl::Now();
        if (r.status != 201) {
          ++failed;
          continue;
        }
        uint64_t p = r.json.value("position", uint64_t{0});
        for (uint64_t seen = last_appended;
             p > seen && !last_appended.compare_exchange_weak(seen, p);) {
        }
      }
    });
  }
  for (std::thread& c : clients) c.join();
  const double live_s = absl::ToDoubleSeconds(absl::Now() - live_start);
  const size_t appended = count - failed;
  auto all_seen = TimeUntil([&] { return probe.count() >= appended; }, absl::Now(), timeout,
                            absl::Milliseconds(50));
  probe.Stop();
  std::vector<double> latencies, append_times;
  for (size_t i = 0; i < count; ++i) {
    append_times.push_back(absl::ToDoubleSeconds(answered[i] - sent[i]));
    if (probe.seen()[i] != absl::InfinitePast()) {
      latencies.push_back(absl::ToDoubleSeconds(probe.seen()[i] - sent[i]));
    }
  }
  Figure(absl::StrCat(
      "append-to-sink latency: p50 ", Ms(Percentile(latencies, 0.5)), ", p99 ",
      Ms(Percentile(latencies, 0.99)), ", max ", Ms(Percentile(latencies, 1.0)), " (", appended,
      " appends at ", static_cast<int>(static_cast<double>(appended) / live_s), "/s from ",
      kAppendClients, " clients", failed > 0 ? absl::StrCat(", ", failed.load(), " failed") : "",
      "; matched by the probe and ", unfiltered, " unfiltered connectors",
      all_seen ? ""
               : absl::StrCat("; only ", latencies.size(), " reached the probe within ",
                              o.timeout_seconds, " s"),
      ")"));

  if (!o.latencies.empty()) {
    FILE* f = std::fopen(o.latencies.c_str(), "w");
    if (f == nullptr) std::fprintf(stderr, "cannot write %s\n", o.latencies.c_str());
    for (size_t i = 0; f && i < count; ++i) {
      std::fprintf(f, "%zu %.3f %.3f %.3f\n", i, absl::ToDoubleMilliseconds(sent[i] - live_start),
                   absl::ToDoubleMilliseconds(answered[i] - sent[i]),
                   probe.seen()[i] == absl::InfinitePast()
                       ? -1.0
                       : absl::ToDoubleMilliseconds(probe.seen()[i] - sent[i]));
    }
    if (f) std::fclose(f);
  }
  // Of that, the append's own request (the node's write path, not the delivery).
  Figure(absl::StrCat("append request time: p50 ", Ms(Percentile(append_times, 0.5)), ", p99 ",
                      Ms(Percentile(append_times, 0.99)), ", max ",
                      Ms(Percentile(append_times, 1.0))));

  // Let every matching connector deliver the live events (by its metrics), so that its final
  // checkpoint must cover the last one.
  std::vector<std::string> matching = {kProbe};
  for (int i = 0; i < o.connectors; ++i) {
    if (Unfiltered(i, o)) matching.push_back(ConnectorId(i));
  }
  size_t done = 0;
  const bool have_metrics = Delivered(http).contains(kProbe);
  auto delivered = !have_metrics ? std::nullopt
                                 : TimeUntil(
                                       [&] {
                                         auto counts = Delivered(http);
                                         done = std::count_if(matching.begin(), matching.end(),
                                                              [&](const std::string& id) {
                                                                return counts[id] >= appended;
                                                              });
                                         return done == matching.size();
                                       },
                                       absl::Now(), timeout, absl::Milliseconds(500));
  if (!have_metrics) {
    Progress("no esdb_connector_records_delivered_total in /metrics: not waiting for delivery");
  } else if (!delivered) {
    Figure(absl::StrCat("delivery of the live events: not finished after ", o.timeout_seconds,
                        " s (", done, " of ", matching.size(), " matching connectors done)"));
  }
  // The node's CPU per delivery: robust to what else the machine runs, unlike the latency.
  if (delivered) {
    const double cpu_s = absl::ToDoubleSeconds(CpuTime(pid) - live_cpu0);
    const double deliveries = static_cast<double>(appended) * matching.size();
    Figure(absl::StrCat("node CPU for the live phase: ", absl::StrFormat("%.2f", cpu_s),
                        " s, ", absl::StrFormat("%.2f", 1e6 * cpu_s / deliveries),
                        " us per delivery (", static_cast<uint64_t>(deliveries),
                        " deliveries, appends included)"));
  }
  // VmHWM is the peak since the start; the idle figure above was far below it, so this is the
  // live phase's (and the delivery of its backlog, if any).
  Figure(absl::StrCat("RSS after the live phase: ", StatusField(pid, "VmRSS") / 1024,
                      " MiB (peak ", StatusField(pid, "VmHWM") / 1024, " MiB)"));

  // Shutdown.
  const uint64_t at_sigterm = LastPosition(http);
  Progress("SIGTERM");
  t = absl::Now();
  auto stopped = node.Stop();
  const absl::Duration shutdown = absl::Now() - t;
  if (stopped.ok()) {
    Figure(
        absl::StrCat("shutdown after SIGTERM: ", Secs(shutdown), " (", stopped->ToString(), ")"));
  } else {
    Figure(absl::StrCat("shutdown after SIGTERM: not finished after ", o.shutdown_timeout_seconds,
                        " s (killed)"));
  }

  // What the log says, read from the dead node's SQLite file.
  auto log = esdb::devnode::LogNode::OpenSqlite(node.db_path().string());
  if (!log.ok()) {
    std::fprintf(stderr, "cannot open the log: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  auto kinds_between = [&](uint64_t from, uint64_t to) {
    std::map<std::string, uint64_t> kinds;
    for (uint64_t at = from + 1; at <= to;) {
      auto events = (*log)->ReadAll(esdb::devnode::ReadDirection::kForwards, at, 4096);
      if (!events.ok() || events->empty()) break;
      for (const auto& e : *events) {
        if (e.position <= to) ++kinds[StreamKind(e.stream)];
      }
      at = events->back().position + 1;
    }
    return kinds;
  };
  Figure(absl::StrCat("idle log growth by stream: ", KindsLine(kinds_between(idle_from, idle_to))));
  Figure(absl::StrCat("appended during shutdown: ",
                      KindsLine(kinds_between(at_sigterm, (*log)->LastPosition()))));

  // A final checkpoint covers everything the connector acknowledged: for the matching ones, the
  // last live event. The others matched nothing, so their checkpoints cannot be judged this way.
  size_t covered = 0;
  std::string behind;
  for (const std::string& id : matching) {
    auto events =
        (*log)->ReadStream(absl::StrCat("$connectors/", id, "/checkpoints"),
                           esdb::devnode::ReadDirection::kBackwards, ESDB_REVISION_END, 1);
    uint64_t position = 0;
    if (events.ok() && !events->empty()) {
      json data = json::parse(events->front().data, nullptr, false);
      if (data.is_object() && data.contains("position") && data["position"].is_object()) {
        position = data["position"].value("commit", uint64_t{0});
      }
    }
    if (position >= last_appended) {
      ++covered;
    } else if (behind.size() < 200) {
      absl::StrAppend(&behind, " ", id, "@", position);
    }
  }
  (*log)->Shutdown();
  Figure(absl::StrCat("final checkpoints: ", covered, " of ", matching.size(),
                      " connectors that received the live events cover the last one (position ",
                      last_appended.load(), ")", behind.empty() ? "" : "; behind:", behind));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help") {
      std::printf(
          "Starts a real dev node (--insecure), creates and enables N null-sink connectors (half\n"
          "with prefix filters matching nothing) plus one file-sink probe, and prints: enable\n"
          "time, idle CPU and log growth, RSS, threads, GET /connectors latency, append-to-sink\n"
          "latency p50/p99 at a given rate (and the append request's own time, and the node's\n"
          "CPU per delivery), and shutdown time with final checkpoints checked.\n"
          "--latencies FILE: a line per live event (number, ms after the phase began when sent,\n"
          "append request ms, append-to-sink ms or -1), to see when the slow ones came.\n"
          "Prints figures only; asserts nothing. Defaults: 1000 connectors, 30 s idle.\n");
      Usage();
      return 0;
    }
  }
  if (!ParseFlags(argc, argv, o)) {
    Usage();
    return 2;
  }
  std::filesystem::path dir = o.dir;
  const bool made = dir.empty();
  if (made) {
    const char* tmp = std::getenv("TMPDIR");
    std::string name =
        absl::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp", "/esdb-scale-XXXXXX");
    if (mkdtemp(name.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = name;
  } else {
    std::filesystem::create_directories(dir);
  }
  int rc = Run(o, dir);
  if (made && !o.keep && rc == 0) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  } else {
    Progress(absl::StrCat("kept ", dir.string()));
  }
  return rc;
}
