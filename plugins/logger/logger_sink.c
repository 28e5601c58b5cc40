/* logger-sink: writes one line per record to the host's log, at the level the `level` setting
 * names. For trying connectors out and for debugging filters. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esdb/sink.h"

static const esdb_sink_setting kLevel = {sizeof(esdb_sink_setting),
                                         "level",
                                         ESDB_SINK_SETTING_ENUM,
                                         "info",
                                         0,
                                         0,
                                         "Log level of the line written for each record.",
                                         "debug|info|warn|error"};
static const esdb_sink_setting* const kSettings[] = {&kLevel};

typedef struct LoggerSink {
  const esdb_sink_host* host;
  esdb_sink_log_level level;
} LoggerSink;

static int LevelFromName(const char* name, esdb_sink_log_level* level) {
  static const char* const kNames[] = {"debug", "info", "warn", "error"};
  static const esdb_sink_log_level kLevels[] = {ESDB_SINK_LOG_DEBUG, ESDB_SINK_LOG_INFO,
                                                ESDB_SINK_LOG_WARN, ESDB_SINK_LOG_ERROR};
  size_t i;
  for (i = 0; i < sizeof(kNames) / sizeof(kNames[0]); ++i) {
    if (strcmp(name, kNames[i]) == 0) {
      *level = kLevels[i];
      return 1;
    }
  }
  return 0;
}

/* The host has already checked the value against the enum; this only guards a host that did
 * not. */
static esdb_sink_status LevelSetting(const esdb_sink_kv* settings, size_t count,
                                     esdb_sink_log_level* level, char* err, size_t err_size) {
  size_t i;
  *level = ESDB_SINK_LOG_INFO;
  for (i = 0; i < count; ++i) {
    if (strcmp(settings[i].key, "level") == 0 && !LevelFromName(settings[i].value, level)) {
      snprintf(err, err_size, "level: '%s' is not one of debug, info, warn, error",
               settings[i].value);
      return ESDB_SINK_INVALID_CONFIG;
    }
  }
  return ESDB_SINK_OK;
}

static esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err,
                                 size_t err_size) {
  esdb_sink_log_level level;
  return LevelSetting(settings, count, &level, err, err_size);
}

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  LoggerSink* sink;
  esdb_sink_log_level level;
  esdb_sink_status status = LevelSetting(settings, count, &level, err, err_size);
  if (status != ESDB_SINK_OK) return status;
  if (host == NULL || host->struct_size < offsetof(esdb_sink_host, log) + sizeof(host->log) ||
      host->log == NULL) {
    snprintf(err, err_size, "the host offers no log function");
    return ESDB_SINK_FATAL;
  }
  sink = (LoggerSink*)malloc(sizeof(LoggerSink));
  if (sink == NULL) {
    snprintf(err, err_size, "out of memory");
    return ESDB_SINK_RETRY;
  }
  sink->host = host;
  sink->level = level;
  *out = (esdb_sink_instance*)sink;
  return ESDB_SINK_OK;
}

static void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records,
                  size_t count, esdb_sink_completion_fn done, void* done_ctx) {
  const LoggerSink* sink = (const LoggerSink*)instance;
  char small[512];
  size_t i;
  for (i = 0; i < count; ++i) {
    const esdb_sink_record* r = records[i];
    const char* format = "stream=%s revision=%" PRIu64 " position=%" PRIu64 " type=%s";
    int needed = snprintf(small, sizeof(small), format, r->stream, r->revision, r->commit_position,
                          r->event_type);
    if (needed < 0) continue;
    if ((size_t)needed < sizeof(small)) {
      sink->host->log(sink->host->ctx, sink->level, small);
    } else {
      /* Long stream or type names: format again into a buffer that fits. */
      char* big = (char*)malloc((size_t)needed + 1);
      if (big == NULL) {
        done(done_ctx, ESDB_SINK_RETRY, "out of memory");
        return;
      }
      snprintf(big, (size_t)needed + 1, format, r->stream, r->revision, r->commit_position,
               r->event_type);
      sink->host->log(sink->host->ctx, sink->level, big);
      free(big);
    }
  }
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static void Close(esdb_sink_instance* instance) { free(instance); }

static const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1, /* min_host_abi_version */
    "logger-sink",
    "1.0.0",
    "Logs one line per record (stream, revision, position, type) through the host's log.",
    kSettings,
    sizeof(kSettings) / sizeof(kSettings[0]),
    Validate,
    Open,
    Write,
    NULL, /* flush: the host's log is not ours to flush */
    Close};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
