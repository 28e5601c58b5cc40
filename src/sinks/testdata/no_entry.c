/* A shared object that looks like a sink plugin by name but exports no entry point. */
#include "esdb/sink.h"

ESDB_SINK_EXPORT int esdb_sink_entry_misspelt(void) { return 0; }
