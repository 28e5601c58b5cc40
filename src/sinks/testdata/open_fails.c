/* A plugin that loads fine but whose open() always refuses its settings. */
#include <stdio.h>

#include "esdb/sink.h"

static const esdb_sink_setting kEndpoint = {
    sizeof(esdb_sink_setting),       "endpoint", ESDB_SINK_SETTING_STRING, "nowhere:1", 0, 0,
    "Where the sink would deliver.", NULL};
static const esdb_sink_setting* const kSettings[] = {&kEndpoint};

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  const char* endpoint = "?";
  size_t i;
  (void)host;
  for (i = 0; i < count; ++i) endpoint = settings[i].value;
  *out = NULL;
  snprintf(err, err_size, "endpoint: '%s' does not accept connections", endpoint);
  return ESDB_SINK_INVALID_CONFIG;
}

static void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                  esdb_sink_completion_fn done, void* done_ctx) {
  (void)sink, (void)records, (void)count;
  done(done_ctx, ESDB_SINK_FATAL, "never opened");
}

static void Close(esdb_sink_instance* sink) { (void)sink; }

static const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin),
                                         ESDB_SINK_ABI_VERSION,
                                         ESDB_SINK_ABI_VERSION,
                                         "open-fails-sink",
                                         "0.0.1",
                                         "Refuses to open.",
                                         kSettings,
                                         1,
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
