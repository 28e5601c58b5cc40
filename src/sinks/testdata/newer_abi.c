/* A plugin that needs a host one ABI version newer than this one; loading must fail. */
#include "esdb/sink.h"

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  (void)settings, (void)count, (void)host, (void)err, (void)err_size;
  *out = NULL;
  return ESDB_SINK_FATAL;
}

static void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                  esdb_sink_completion_fn done, void* done_ctx) {
  (void)sink, (void)records, (void)count;
  done(done_ctx, ESDB_SINK_FATAL, "unreachable");
}

static void Close(esdb_sink_instance* sink) { (void)sink; }

static const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin),
                                         ESDB_SINK_ABI_VERSION + 1,
                                         ESDB_SINK_ABI_VERSION + 1,
                                         "future-sink",
                                         "9.9.9",
                                         "Needs a newer host.",
                                         NULL,
                                         0,
                                         NULL,
                                         Open,
                                         Write,
                                         NULL,
                                         Close,
                                         0};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
