/* A plugin whose entry point declines every host (returns NULL). */
#include "esdb/sink.h"

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return NULL;
}
