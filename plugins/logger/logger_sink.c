/* logger-sink: writes one line per record to the host's log, at the level the `level` setting
 * names. For trying connectors out and for debugging filters.
 *
 * Stream names and event types come from whoever appends events, so they are escaped before they
 * reach the log: a name holding a line break must not be able to forge a line of the node's
 * log. */
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
                                         "debug|info|warn|error",
                                         ESDB_SINK_TARGET_NONE};
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
  if (host == NULL || !ESDB_HAS_FUNCTION(esdb_sink_host, host, log)) {
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

/* Writes `text` with every byte that could break or disguise a log line escaped: bytes below
 * 0x20 and 0x7f as \xHH, the C1 control characters U+0080..U+009F (UTF-8 C2 80..C2 9F, which
 * some terminals and log viewers treat as line breaks) as \u00HH, and the backslash, the escape
 * character itself, doubled so that an escape can always be told from the text. Writes into out
 * when it is not NULL, and returns the length of the escaped text either way. */
static size_t Escape(const char* text, char* out) {
  static const char kHex[] = "0123456789abcdef";
  const unsigned char* p = (const unsigned char*)(text != NULL ? text : "");
  size_t n = 0;
  for (; *p != 0; ++p) {
    unsigned char c = *p;
    if (c < 0x20 || c == 0x7f) {
      if (out != NULL) {
        out[n] = '\\';
        out[n + 1] = 'x';
        out[n + 2] = kHex[c >> 4];
        out[n + 3] = kHex[c & 0xf];
      }
      n += 4;
    } else if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
      if (out != NULL) {
        memcpy(out + n, "\\u00", 4);
        out[n + 4] = kHex[p[1] >> 4];
        out[n + 5] = kHex[p[1] & 0xf];
      }
      n += 6;
      ++p;
    } else if (c == '\\') {
      if (out != NULL) out[n] = out[n + 1] = '\\';
      n += 2;
    } else {
      if (out != NULL) out[n] = (char)c;
      n += 1;
    }
  }
  if (out != NULL) out[n] = '\0';
  return n;
}

/* Logs one record's line; 0 when memory ran out. */
static int LogRecord(const LoggerSink* sink, const esdb_sink_record* r) {
  /* One allocation holds both escaped names, another the line (kept apart so that the compiler
   * can see snprintf's sources never overlap its destination). */
  size_t stream_size = Escape(r->stream, NULL) + 1;
  size_t type_size = Escape(r->event_type, NULL) + 1;
  size_t line_size = stream_size + type_size + 80; /* the labels and two 20-digit numbers */
  char* stream = (char*)malloc(stream_size + type_size);
  char* line = (char*)malloc(line_size);
  char* type;
  if (stream == NULL || line == NULL) {
    free(stream);
    free(line);
    return 0;
  }
  type = stream + stream_size;
  Escape(r->stream, stream);
  Escape(r->event_type, type);
  snprintf(line, line_size, "stream=%s revision=%" PRIu64 " position=%" PRIu64 " type=%s", stream,
           r->revision, r->commit_position, type);
  sink->host->log(sink->host->ctx, sink->level, line);
  free(stream);
  free(line);
  return 1;
}

static void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records,
                  size_t count, esdb_sink_completion_fn done, void* done_ctx) {
  const LoggerSink* sink = (const LoggerSink*)instance;
  size_t i;
  for (i = 0; i < count; ++i) {
    if (!LogRecord(sink, records[i])) {
      done(done_ctx, ESDB_SINK_RETRY, "out of memory");
      return;
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
    "1.1.0",
    "Logs one line per record (stream, revision, position, type) through the host's log.",
    kSettings,
    sizeof(kSettings) / sizeof(kSettings[0]),
    Validate,
    Open,
    Write,
    NULL, /* flush: the host's log is not ours to flush */
    Close,
    0 /* flags */};

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
