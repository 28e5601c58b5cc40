/* null-sink: accepts every batch and discards it. For benchmarks and dry runs. */
#include "esdb/sink.h"

/* Instances carry no state, so every open() hands out the same token. */
static char instance_token;

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  (void)settings, (void)count, (void)host, (void)err, (void)err_size;
  *out = (esdb_sink_instance*)&instance_token;
  return ESDB_SINK_OK;
}

static void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                  esdb_sink_completion_fn done, void* done_ctx) {
  (void)sink, (void)records, (void)count;
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static void Close(esdb_sink_instance* sink) { (void)sink; }

static const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin),
                                         ESDB_SINK_ABI_VERSION,
                                         1, /* min_host_abi_version */
                                         "null-sink",
                                         "1.0.0",
                                         "Discards every record; acknowledges at once.",
                                         NULL,
                                         0,
                                         NULL, /* validate: nothing to check */
                                         Open,
                                         Write,
                                         NULL, /* flush: nothing is ever pending */
                                         Close,
                                         0 /* flags */};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
