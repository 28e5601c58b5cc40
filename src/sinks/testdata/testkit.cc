// "testkit-sink": a test plugin whose settings choose how it behaves, good or bad, so that the
// host's checks and its defences against misbehaving plugins can be driven from tests.
//
// Every setting it receives at open() is logged as "setting <key>=<value>", and with mode=ok every
// record as "record ..." with all its fields, so tests can see exactly what crossed the ABI.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "esdb/sink.h"

namespace {

const esdb_sink_setting kTarget = {
    sizeof(esdb_sink_setting), "target", ESDB_SINK_SETTING_STRING, nullptr, 1, 0,
    "Any text; required.",     nullptr};
const esdb_sink_setting kCount = {
    sizeof(esdb_sink_setting), "count", ESDB_SINK_SETTING_INT, "5", 0, 0,
    "A number up to 1000.",    nullptr};
const esdb_sink_setting kVerbose = {sizeof(esdb_sink_setting),
                                    "verbose",
                                    ESDB_SINK_SETTING_BOOL,
                                    "false",
                                    0,
                                    0,
                                    "A flag.",
                                    nullptr};
const esdb_sink_setting kMode = {sizeof(esdb_sink_setting),
                                 "mode",
                                 ESDB_SINK_SETTING_ENUM,
                                 "ok",
                                 0,
                                 0,
                                 "How write() behaves.",
                                 "ok|retry|fatal|self-named|bad-status|twice|thread|late-twice|"
                                 "invalid-config|never|hang|chatty|poison|scrambled|held|release"};
const esdb_sink_setting kOpenResult = {sizeof(esdb_sink_setting),
                                       "openResult",
                                       ESDB_SINK_SETTING_ENUM,
                                       "ok",
                                       0,
                                       0,
                                       "What open() returns.",
                                       "ok|invalid-config|retry|fatal|bogus|no-instance|abort"};
const esdb_sink_setting kFlushResult = {
    sizeof(esdb_sink_setting), "flushResult",   ESDB_SINK_SETTING_ENUM, "ok", 0, 0,
    "What flush() returns.",   "ok|retry|fatal"};
const esdb_sink_setting kToken = {sizeof(esdb_sink_setting),
                                  "token",
                                  ESDB_SINK_SETTING_STRING,
                                  nullptr,
                                  0,
                                  1,
                                  "A secret.",
                                  nullptr};
const esdb_sink_setting kHeaders = {
    sizeof(esdb_sink_setting), "headers:", ESDB_SINK_SETTING_STRING, nullptr, 0, 0,
    "A family of keys.",       nullptr};
const esdb_sink_setting* const kSettings[] = {&kTarget,     &kCount,       &kVerbose, &kMode,
                                              &kOpenResult, &kFlushResult, &kToken,   &kHeaders};

const char* Find(const esdb_sink_kv* settings, size_t count, const char* key) {
  for (size_t i = 0; i < count; ++i) {
    if (std::strcmp(settings[i].key, key) == 0) return settings[i].value;
  }
  return "";
}

struct Instance {
  const esdb_sink_host* host;
  std::string mode;
  std::string flush_result;

  // late-twice: a thread that replays the previous write's completion once the next write (or
  // close) has started, to imitate a plugin calling a stale completion.
  std::thread worker;
  std::mutex mu;
  std::condition_variable cv;
  bool release_stale = false;

  // scrambled: writes whose completion is held back, and the thread that completes them, newest
  // first, once three are held or 5 ms after the last write (the plugin declares pipelined
  // writes, so the host may have several outstanding).
  struct Held {
    esdb_sink_completion_fn done;
    void* done_ctx;
  };
  std::thread scrambler;
  std::mutex scramble_mu;
  std::condition_variable scramble_cv;
  std::vector<Held> held;
  bool scramble_stop = false;

  void Hold(esdb_sink_completion_fn done, void* done_ctx) {
    {
      std::lock_guard<std::mutex> lock(scramble_mu);
      held.push_back({done, done_ctx});
      if (!scrambler.joinable()) scrambler = std::thread([this] { Scramble(); });
    }
    scramble_cv.notify_all();
  }
  void Scramble() {
    std::unique_lock<std::mutex> lock(scramble_mu);
    while (!scramble_stop) {
      size_t before = held.size();
      scramble_cv.wait_for(lock, std::chrono::milliseconds(5),
                           [&] { return scramble_stop || held.size() >= 3; });
      if (scramble_stop || held.empty()) continue;
      if (held.size() < 3 && held.size() != before) continue;  // more may come
      std::vector<Held> batch;
      batch.swap(held);
      lock.unlock();
      for (size_t i = batch.size(); i-- > 0;)
        batch[i].done(batch[i].done_ctx, ESDB_SINK_OK, nullptr);
      lock.lock();
    }
  }
  void StopScrambler() {
    {
      std::lock_guard<std::mutex> lock(scramble_mu);
      scramble_stop = true;
    }
    scramble_cv.notify_all();
    if (scrambler.joinable()) scrambler.join();
  }

  void Log(esdb_sink_log_level level, const std::string& line) const {
    host->log(host->ctx, level, line.c_str());
  }

  void JoinWorker() {
    if (!worker.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      release_stale = true;
    }
    cv.notify_all();
    worker.join();
    release_stale = false;
  }
};

esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err, size_t err_size) {
  if (std::atoll(Find(settings, count, "count")) > 1000) {
    std::snprintf(err, err_size, "count: must be at most 1000");
    return ESDB_SINK_INVALID_CONFIG;
  }
  return ESDB_SINK_OK;
}

esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                      esdb_sink_instance** out, char* err, size_t err_size) {
  try {
    std::string open_result = Find(settings, count, "openResult");
    if (open_result == "abort") std::abort();  // takes the whole host down, as a buggy sink can
    if (open_result == "invalid-config") {
      std::snprintf(err, err_size, "target: refused by openResult");
      return ESDB_SINK_INVALID_CONFIG;
    }
    if (open_result == "retry") {
      std::snprintf(err, err_size, "target: not reachable yet");
      return ESDB_SINK_RETRY;
    }
    if (open_result == "fatal") {
      std::snprintf(err, err_size, "target: gone for good");
      return ESDB_SINK_FATAL;
    }
    if (open_result == "bogus") {
      std::snprintf(err, err_size, "made-up status");
      return 77;
    }
    if (open_result == "no-instance") {
      *out = nullptr;
      return ESDB_SINK_OK;
    }
    auto* instance = new Instance();
    instance->host = host;
    instance->mode = Find(settings, count, "mode");
    instance->flush_result = Find(settings, count, "flushResult");
    instance->Log(ESDB_SINK_LOG_INFO, std::string("open connector=") + host->connector_id);
    if (ESDB_HAS_FIELD(esdb_sink_host, host, epoch)) {
      instance->Log(ESDB_SINK_LOG_DEBUG, "host batch=" + std::to_string(host->max_batch_records) +
                                             "/" + std::to_string(host->max_batch_bytes) +
                                             " generation=" + std::to_string(host->generation) +
                                             " epoch=" + std::to_string(host->epoch));
    }
    if (ESDB_HAS_FIELD(esdb_sink_host, host, max_in_flight) && host->max_in_flight > 1) {
      instance->Log(ESDB_SINK_LOG_DEBUG, "host maxInFlight=" + std::to_string(host->max_in_flight));
    }
    for (size_t i = 0; i < count; ++i) {
      instance->Log(ESDB_SINK_LOG_DEBUG,
                    std::string("setting ") + settings[i].key + "=" + settings[i].value);
    }
    *out = reinterpret_cast<esdb_sink_instance*>(instance);
    return ESDB_SINK_OK;
  } catch (...) {
    std::snprintf(err, err_size, "open threw");
    return ESDB_SINK_FATAL;
  }
}

void LogRecord(const Instance& self, const esdb_sink_record& r) {
  char numbers[160];
  std::snprintf(numbers, sizeof(numbers), " revision=%llu commit=%llu prepare=%llu created=%lld",
                static_cast<unsigned long long>(r.revision),
                static_cast<unsigned long long>(r.commit_position),
                static_cast<unsigned long long>(r.prepare_position),
                static_cast<long long>(r.created_unix_us));
  self.Log(
      ESDB_SINK_LOG_INFO,
      std::string("record stream=") + r.stream + numbers + " id=" + r.event_id +
          " type=" + r.event_type + " contentType=" + r.content_type +
          " data=" + std::string(reinterpret_cast<const char*>(r.data), r.data_size) +
          " metadata=" + std::string(reinterpret_cast<const char*>(r.metadata), r.metadata_size));
}

// held: completions kept here, process-wide, until a write of an instance in mode release (which
// may be another instance: the holder may have been abandoned) fires them all with OK.
std::mutex held_mu;
std::vector<std::pair<esdb_sink_completion_fn, void*>> held_completions;

void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
           esdb_sink_completion_fn done, void* done_ctx) {
  auto* self = reinterpret_cast<Instance*>(sink);
  try {
    self->JoinWorker();  // late-twice: fires the previous write's stale completion first
    const std::string& mode = self->mode;
    if (mode == "ok") {
      for (size_t i = 0; i < count; ++i) LogRecord(*self, *records[i]);
      done(done_ctx, ESDB_SINK_OK, nullptr);
    } else if (mode == "retry") {
      done(done_ctx, ESDB_SINK_RETRY, "target: busy, try later");
    } else if (mode == "fatal") {
      done(done_ctx, ESDB_SINK_FATAL, "target: rejected the batch");
    } else if (mode == "self-named") {
      // Like a plugin that starts every message with its own name.
      done(done_ctx, ESDB_SINK_RETRY, "testkit-sink: target: busy");
    } else if (mode == "chatty") {
      // Like a sink that quotes a remote server's whole answer.
      std::string body = "target said:\n";
      for (int i = 0; i < 500; ++i) body += "<html>line\r\n";
      done(done_ctx, ESDB_SINK_FATAL, body.c_str());
    } else if (mode == "bad-status") {
      done(done_ctx, 42, "this status does not exist");
    } else if (mode == "invalid-config") {
      done(done_ctx, ESDB_SINK_INVALID_CONFIG, "not a write outcome");
    } else if (mode == "poison") {
      // Accepts records up to the first whose data contains "poison", refuses that one (FATAL)
      // and names it through the host's fail_record when the host offers it.
      size_t bad = 0;
      while (bad < count &&
             std::string(reinterpret_cast<const char*>(records[bad]->data), records[bad]->data_size)
                     .find("poison") == std::string::npos) {
        ++bad;
      }
      for (size_t i = 0; i < bad; ++i) LogRecord(*self, *records[i]);
      if (bad == count) {
        done(done_ctx, ESDB_SINK_OK, nullptr);
      } else {
        const esdb_sink_host* host = self->host;
        if (ESDB_HAS_FUNCTION(esdb_sink_host, host, fail_record)) host->fail_record(done_ctx, bad);
        done(done_ctx, ESDB_SINK_FATAL, "target: refused a poison record");
      }
    } else if (mode == "scrambled") {
      for (size_t i = 0; i < count; ++i) LogRecord(*self, *records[i]);
      self->Hold(done, done_ctx);
    } else if (mode == "held") {
      std::lock_guard<std::mutex> lock(held_mu);
      held_completions.emplace_back(done, done_ctx);
    } else if (mode == "release") {
      std::vector<std::pair<esdb_sink_completion_fn, void*>> release;
      {
        std::lock_guard<std::mutex> lock(held_mu);
        release.swap(held_completions);
      }
      for (auto& [held_done, held_ctx] : release) held_done(held_ctx, ESDB_SINK_OK, nullptr);
      done(done_ctx, ESDB_SINK_OK, nullptr);
    } else if (mode == "never") {
      // A hung sink: the completion is never called.
      self->Log(ESDB_SINK_LOG_WARN, "write never completes");
    } else if (mode == "hang") {
      // A sink stuck inside write(), as a blocking call to a dead disk or peer would be: this
      // thread never returns (until the process ends).
      self->Log(ESDB_SINK_LOG_WARN, "write blocks for ever");
      std::unique_lock<std::mutex> lock(self->mu);
      self->cv.wait(lock, [] { return false; });
    } else if (mode == "twice") {
      done(done_ctx, ESDB_SINK_OK, nullptr);
      done(done_ctx, ESDB_SINK_FATAL, "second completion");
    } else if (mode == "thread") {
      self->worker = std::thread([done, done_ctx] { done(done_ctx, ESDB_SINK_OK, nullptr); });
    } else if (mode == "late-twice") {
      done(done_ctx, ESDB_SINK_OK, nullptr);
      self->worker = std::thread([self, done, done_ctx] {
        std::unique_lock<std::mutex> lock(self->mu);
        self->cv.wait(lock, [self] { return self->release_stale; });
        done(done_ctx, ESDB_SINK_FATAL, "stale completion");
      });
    } else {
      done(done_ctx, ESDB_SINK_FATAL, "unknown mode");
    }
  } catch (...) {
    done(done_ctx, ESDB_SINK_FATAL, "write threw");
  }
}

esdb_sink_status Flush(esdb_sink_instance* sink, char* err, size_t err_size) {
  auto* self = reinterpret_cast<Instance*>(sink);
  if (self->flush_result == "retry") {
    std::snprintf(err, err_size, "disk busy");
    return ESDB_SINK_RETRY;
  }
  if (self->flush_result == "fatal") {
    std::snprintf(err, err_size, "disk gone");
    return ESDB_SINK_FATAL;
  }
  return ESDB_SINK_OK;
}

void Close(esdb_sink_instance* sink) {
  auto* self = reinterpret_cast<Instance*>(sink);
  try {
    self->JoinWorker();
    self->StopScrambler();
    self->Log(ESDB_SINK_LOG_INFO, "close");
  } catch (...) {
  }
  delete self;
}

const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin),
                                  ESDB_SINK_ABI_VERSION,
                                  ESDB_SINK_ABI_VERSION,
                                  "testkit-sink",
                                  "0.1.0",
                                  "Behaves as its settings say; for tests.",
                                  kSettings,
                                  sizeof(kSettings) / sizeof(kSettings[0]),
                                  Validate,
                                  Open,
                                  Write,
                                  Flush,
                                  Close,
                                  ESDB_SINK_PIPELINED_WRITES};

}  // namespace

extern "C" ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
