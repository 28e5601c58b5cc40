/* A plugin as another release of esdb/sink.h would build it (esdb/abi.h), for the host's
 * compatibility tests. Built twice:
 *   OLDER_RELEASE: every struct cut to its version-1 size. Its settings entry also holds a
 *     `target` the host must not read, since the entry's struct_size ends before it.
 *   otherwise: a newer release: ABI version + 1, and the plugin table and settings entry carry
 *     fields appended after this host's version, which the host must ignore.
 * Either way it opens, logs "opened <connector id>", and acknowledges every write. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "esdb/sink.h"

typedef struct Instance {
  const esdb_sink_host* host;
} Instance;

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  Instance* sink = (Instance*)calloc(1, sizeof(Instance));
  char line[200];
  (void)settings, (void)count;
  if (sink == NULL) {
    snprintf(err, err_size, "out of memory");
    return ESDB_SINK_RETRY;
  }
  sink->host = host;
  if (ESDB_HAS_FUNCTION(esdb_sink_host, host, log) &&
      ESDB_HAS_FIELD(esdb_sink_host, host, connector_id)) {
    snprintf(line, sizeof line, "opened %s", host->connector_id);
    host->log(host->ctx, ESDB_SINK_LOG_INFO, line);
  }
  *out = (esdb_sink_instance*)sink;
  return ESDB_SINK_OK;
}

static void Write(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                  esdb_sink_completion_fn done, void* done_ctx) {
  (void)sink, (void)records, (void)count;
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static esdb_sink_status Flush(esdb_sink_instance* sink, char* err, size_t err_size) {
  (void)sink, (void)err, (void)err_size;
  return ESDB_SINK_OK;
}

static void Close(esdb_sink_instance* sink) { free(sink); }

#ifdef OLDER_RELEASE

static const esdb_sink_setting kLabel = {ESDB_FIELD_END(esdb_sink_setting, enum_values),
                                         "label",
                                         ESDB_SINK_SETTING_STRING,
                                         "none",
                                         0,
                                         0,
                                         "Any text.",
                                         NULL,
                                         99 /* beyond struct_size: an unknown target if read */};
static const esdb_sink_setting* const kSettings[] = {&kLabel};

static const esdb_sink_plugin kPlugin = {ESDB_FIELD_END(esdb_sink_plugin, close),
                                         1,
                                         1,
                                         "older-release-sink",
                                         "1.0.0",
                                         "Built against version 1 of the sink ABI.",
                                         kSettings,
                                         1,
                                         NULL,
                                         Open,
                                         Write,
                                         Flush,
                                         Close};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}

#else

typedef struct NewerSetting {
  esdb_sink_setting known;
  const char* added_later;
} NewerSetting;

typedef struct NewerPlugin {
  esdb_sink_plugin known;
  void (*added_later)(void);
  uint64_t more;
} NewerPlugin;

static void AddedLater(void) { abort(); /* this host knows nothing of it: never called */ }

static const NewerSetting kLabel = {{sizeof(NewerSetting), "label", ESDB_SINK_SETTING_STRING,
                                     "none", 0, 0, "Any text.", NULL, ESDB_SINK_TARGET_NONE},
                                    "a field this host does not know"};
static const esdb_sink_setting* const kSettings[] = {&kLabel.known};

static const NewerPlugin kPlugin = {
    {sizeof(NewerPlugin), ESDB_SINK_ABI_VERSION + 1, ESDB_SINK_ABI_VERSION, "newer-release-sink",
     "2.0.0", "Built against the next version of the sink ABI.", kSettings, 1, NULL, Open, Write,
     Flush, Close},
    AddedLater,
    UINT64_MAX};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin.known;
}

#endif
