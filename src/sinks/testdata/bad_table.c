/* A plugin whose table lacks a mandatory function (open); loading must fail. Built again with
 * PLUGIN_NAME set to a name the host refuses, which it reports first. */
#include "esdb/sink.h"

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "no-open-sink"
#endif

static void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                  esdb_sink_completion_fn done, void* done_ctx) {
  (void)sink, (void)records, (void)count;
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static void Close(esdb_sink_instance* sink) { (void)sink; }

static const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin),
                                         ESDB_SINK_ABI_VERSION,
                                         ESDB_SINK_ABI_VERSION,
                                         PLUGIN_NAME,
                                         "0.0.1",
                                         "Forgot open().",
                                         NULL,
                                         0,
                                         NULL,
                                         NULL,
                                         Write,
                                         NULL,
                                         Close,
                                         0};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
