/* latency-sink: a bench-only sink plugin that notes, for every record of type "LatencyProbe",
 * how long ago its append call started. The appender puts that instant (CLOCK_MONOTONIC, in
 * nanoseconds) into the event's data as {"t":<ns>,...}; write() reads the clock once per batch,
 * when the host hands the batch over, so the figure is append-call start -> sink write.
 *
 * Not a shipped plugin: it is built into the bench's own plugin folder, and it exports one more
 * symbol than the sink ABI asks for, esdb_latency_sink_take(), through which the benchmark (the
 * same process) takes the samples. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "esdb/sink.h"

static pthread_mutex_t samples_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t* samples; /* nanoseconds, guarded by samples_mu */
static size_t sample_count, sample_capacity;

static char instance_token;

static int64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The number after "t": in the data, or -1. */
static int64_t ProbeTime(const esdb_sink_record* r) {
  static const char kKey[] = "{\"t\":";
  size_t n = sizeof kKey - 1;
  if (r->data_size <= n || memcmp(r->data, kKey, n) != 0) return -1;
  int64_t t = 0;
  for (size_t i = n; i < r->data_size && r->data[i] >= '0' && r->data[i] <= '9'; ++i) {
    t = t * 10 + (r->data[i] - '0');
  }
  return t;
}

static void Keep(int64_t ns) {
  if (sample_count == sample_capacity) {
    size_t capacity = sample_capacity ? 2 * sample_capacity : 65536;
    int64_t* grown = realloc(samples, capacity * sizeof *samples);
    if (grown == NULL) return; /* a sample lost; the benchmark reports the count it got */
    samples = grown;
    sample_capacity = capacity;
  }
  samples[sample_count++] = ns;
}

ESDB_SINK_EXPORT size_t esdb_latency_sink_take(int64_t* out, size_t capacity);

/* Moves up to `capacity` samples (oldest first) into `out` and forgets all of them; returns how
 * many were moved. With out == NULL, returns how many are held and forgets nothing. */
size_t esdb_latency_sink_take(int64_t* out, size_t capacity) {
  pthread_mutex_lock(&samples_mu);
  size_t n = sample_count;
  if (out != NULL) {
    if (n > capacity) n = capacity;
    memcpy(out, samples, n * sizeof *samples);
    sample_count = 0;
  }
  pthread_mutex_unlock(&samples_mu);
  return n;
}

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  (void)settings, (void)count, (void)host, (void)err, (void)err_size;
  *out = (esdb_sink_instance*)&instance_token;
  return ESDB_SINK_OK;
}

static void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                  esdb_sink_completion_fn done, void* done_ctx) {
  (void)sink;
  const int64_t now = NowNs();
  pthread_mutex_lock(&samples_mu);
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(records[i]->event_type, "LatencyProbe") != 0) continue;
    int64_t t = ProbeTime(records[i]);
    if (t >= 0) Keep(now - t);
  }
  pthread_mutex_unlock(&samples_mu);
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static void Close(esdb_sink_instance* sink) { (void)sink; }

static const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin),
                                         ESDB_SINK_ABI_VERSION,
                                         1, /* min_host_abi_version */
                                         "latency-sink",
                                         "1.0.0",
                                         "Bench only: notes append -> write latency of probes.",
                                         NULL,
                                         0,
                                         NULL,
                                         Open,
                                         Write,
                                         NULL,
                                         Close};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
