/* test-c-sink: appends "stream revision commit_position event_type" lines to a text file.
 * Written in strict C99 so that building it proves the sink ABI header is plain C. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esdb/sink.h"

static const esdb_sink_setting kPath = {sizeof(esdb_sink_setting),
                                        "path",
                                        ESDB_SINK_SETTING_STRING,
                                        NULL,
                                        1,
                                        0,
                                        "Text file the records are appended to, one line each.",
                                        NULL};
static const esdb_sink_setting* const kSettings[] = {&kPath};

typedef struct TestCSink {
  FILE* file;
} TestCSink;

static const char* PathSetting(const esdb_sink_kv* settings, size_t count) {
  size_t i;
  for (i = 0; i < count; ++i) {
    if (strcmp(settings[i].key, "path") == 0) return settings[i].value;
  }
  return NULL;
}

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  const char* path = PathSetting(settings, count);
  TestCSink* sink;
  (void)host;
  if (path == NULL || path[0] == '\0') {
    snprintf(err, err_size, "path: required");
    return ESDB_SINK_INVALID_CONFIG;
  }
  sink = (TestCSink*)malloc(sizeof(TestCSink));
  if (sink == NULL) {
    snprintf(err, err_size, "out of memory");
    return ESDB_SINK_RETRY;
  }
  sink->file = fopen(path, "a");
  if (sink->file == NULL) {
    snprintf(err, err_size, "path: cannot open '%s': %s", path, strerror(errno));
    free(sink);
    return ESDB_SINK_INVALID_CONFIG;
  }
  *out = (esdb_sink_instance*)sink;
  return ESDB_SINK_OK;
}

static void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records,
                  size_t count, esdb_sink_completion_fn done, void* done_ctx) {
  TestCSink* sink = (TestCSink*)instance;
  char reason[256];
  size_t i;
  for (i = 0; i < count; ++i) {
    const esdb_sink_record* r = records[i];
    if (fprintf(sink->file, "%s %" PRIu64 " %" PRIu64 " %s\n", r->stream, r->revision,
                r->commit_position, r->event_type) < 0) {
      break;
    }
  }
  if (i < count || fflush(sink->file) != 0) {
    snprintf(reason, sizeof(reason), "write failed: %s", strerror(errno));
    clearerr(sink->file);
    done(done_ctx, ESDB_SINK_RETRY, reason);
    return;
  }
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static void Close(esdb_sink_instance* instance) {
  TestCSink* sink = (TestCSink*)instance;
  fclose(sink->file);
  free(sink);
}

static const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1, /* min_host_abi_version */
    "test-c-sink",
    "1.0.0",
    "Appends 'stream revision position type' lines to a file; a C99 example.",
    kSettings,
    sizeof(kSettings) / sizeof(kSettings[0]),
    NULL, /* validate: the settings table says it all */
    Open,
    Write,
    NULL,
    Close};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
