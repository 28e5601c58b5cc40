/* audit-sink: appends one line per record to a text file,
 *
 *   <prefix><stream>@<revision> <commit position> <event type>
 *
 * for instance "eu-1 order-42@3 1187 OrderShipped". A small but complete sink, written in plain
 * C99 against the installed SDK (esdb/sink.h): a settings table with a required key, a plain
 * string, a boolean with a default and a secret; a validate that checks what the table cannot;
 * an open that tells configuration errors from transient ones; synchronous completions; a flush.
 *
 * The secret, `streamSalt`, shows how the host treats secret settings: it never echoes the value
 * (GET /connectors/... shows "******"). When set, stream ids are written as "#" followed by
 * 16 hex digits of a salted 64-bit hash (FNV-1a, then mixed), so that an audit file kept outside
 * the database does not spell out ids such as "customer-jane". This is not a cryptographic hash:
 * it hides ids from casual readers, it does not protect them from someone who guesses candidate
 * ids.
 */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esdb/sink.h"

/* The settings table. The host checks keys, types and required values against it before the
 * plugin sees anything, and shows it under GET /connector-plugins; it must outlive every call,
 * hence static storage. */
static const esdb_sink_setting kPath = {
    sizeof(esdb_sink_setting),
    "path",
    ESDB_SINK_SETTING_STRING,
    NULL,
    1,
    0,
    "Path of the file the lines are appended to (created if missing), under the host's sink "
    "file root.",
    NULL,
    ESDB_SINK_TARGET_FILE}; /* the host holds it to its file root before we see it */
static const esdb_sink_setting kPrefix = {
    sizeof(esdb_sink_setting),
    "prefix",
    ESDB_SINK_SETTING_STRING,
    NULL,
    0,
    0,
    "Text put at the start of every line, as given (include a trailing space if you want one).",
    NULL,
    ESDB_SINK_TARGET_NONE};
static const esdb_sink_setting kFsync = {
    sizeof(esdb_sink_setting),
    "fsync",
    ESDB_SINK_SETTING_BOOL,
    "false",
    0,
    0,
    "true: every batch is fsync'ed before it is acknowledged; false: only on flush.",
    NULL,
    ESDB_SINK_TARGET_NONE};
static const esdb_sink_setting kStreamSalt = {
    sizeof(esdb_sink_setting),
    "streamSalt",
    ESDB_SINK_SETTING_STRING,
    NULL,
    0,
    1,
    "When set, stream ids are written as '#' and a salted 64-bit hash (not cryptographic).",
    NULL,
    ESDB_SINK_TARGET_NONE};
static const esdb_sink_setting* const kSettings[] = {&kPath, &kPrefix, &kFsync, &kStreamSalt};

typedef struct AuditSink {
  FILE* file;
  char* prefix;      /* owned copy: the settings are borrowed for the duration of open() only */
  char* stream_salt; /* owned copy, NULL when not set */
  int fsync_each_batch;
} AuditSink;

static const char* Find(const esdb_sink_kv* kv, size_t count, const char* key) {
  size_t i;
  for (i = 0; i < count; ++i) {
    if (strcmp(kv[i].key, key) == 0) return kv[i].value;
  }
  return NULL;
}

static char* CopyOrNull(const char* text) {
  char* copy;
  if (text == NULL || text[0] == '\0') return NULL;
  copy = (char*)malloc(strlen(text) + 1);
  if (copy != NULL) strcpy(copy, text);
  return copy;
}

/* Only what the table cannot say. The host has already checked that path is present and lies
 * under its sink file root (it passes it resolved), and that no value holds a control character.
 * It may run on any thread, concurrently with anything, so it touches nothing but its arguments. */
static esdb_sink_status Validate(const esdb_sink_kv* kv, size_t count, char* err, size_t err_size) {
  const char* prefix = Find(kv, count, "prefix");
  if (prefix != NULL && strlen(prefix) > 32) {
    snprintf(err, err_size, "prefix: at most 32 bytes, not %zu", strlen(prefix));
    return ESDB_SINK_INVALID_CONFIG;
  }
  /* The error text never quotes streamSalt: it is a secret. */
  return ESDB_SINK_OK;
}

static void FreeSink(AuditSink* sink) {
  if (sink->file != NULL) fclose(sink->file);
  free(sink->prefix);
  free(sink->stream_salt);
  free(sink);
}

static esdb_sink_status Open(const esdb_sink_kv* kv, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  const char* path = Find(kv, count, "path");
  const char* prefix = Find(kv, count, "prefix");
  const char* fsync_setting = Find(kv, count, "fsync");
  const char* salt = Find(kv, count, "streamSalt");
  AuditSink* sink = (AuditSink*)calloc(1, sizeof(AuditSink));
  if (sink == NULL) {
    snprintf(err, err_size, "out of memory");
    return ESDB_SINK_RETRY; /* may pass: the host opens again after a backoff */
  }
  sink->prefix = CopyOrNull(prefix);
  sink->stream_salt = CopyOrNull(salt);
  if ((prefix != NULL && prefix[0] != '\0' && sink->prefix == NULL) ||
      (salt != NULL && salt[0] != '\0' && sink->stream_salt == NULL)) {
    FreeSink(sink);
    snprintf(err, err_size, "out of memory");
    return ESDB_SINK_RETRY;
  }
  /* The host hands booleans over as exactly "true" or "false", the default included. */
  sink->fsync_each_batch = fsync_setting != NULL && strcmp(fsync_setting, "true") == 0;
  sink->file = fopen(path, "a");
  if (sink->file == NULL) {
    int error = errno;
    snprintf(err, err_size, "path: cannot open '%s': %s", path, strerror(error));
    FreeSink(sink);
    /* A missing folder or a permission problem needs the user; anything else may pass. */
    return error == ENOENT || error == EACCES || error == EISDIR ? ESDB_SINK_INVALID_CONFIG
                                                                 : ESDB_SINK_RETRY;
  }
  /* A field of esdb_sink_host beyond the host's struct_size must not be read (esdb/abi.h). */
  if (ESDB_HAS_FUNCTION(esdb_sink_host, host, log)) {
    host->log(host->ctx, ESDB_SINK_LOG_INFO, "audit-sink: file opened");
  }
  *out = (esdb_sink_instance*)sink;
  return ESDB_SINK_OK;
}

/* 64-bit FNV-1a over salt, a 0 byte, then the stream id, then a final mix so that ids that differ
 * only in their last characters ("order-1", "order-2") do not give look-alike hashes. */
static uint64_t SaltedHash(const char* salt, const char* stream) {
  uint64_t hash = UINT64_C(14695981039346656037);
  const unsigned char* p;
  for (p = (const unsigned char*)salt; *p != '\0'; ++p) {
    hash = (hash ^ *p) * UINT64_C(1099511628211);
  }
  hash = hash * UINT64_C(1099511628211); /* the 0 separator: "ab"+"c" differs from "a"+"bc" */
  for (p = (const unsigned char*)stream; *p != '\0'; ++p) {
    hash = (hash ^ *p) * UINT64_C(1099511628211);
  }
  hash ^= hash >> 33; /* the 64-bit finaliser of MurmurHash3 */
  hash *= UINT64_C(0xff51afd7ed558ccd);
  hash ^= hash >> 33;
  hash *= UINT64_C(0xc4ceb9fe1a85ec53);
  hash ^= hash >> 33;
  return hash;
}

static int WriteLine(const AuditSink* sink, const esdb_sink_record* r) {
  const char* prefix = sink->prefix != NULL ? sink->prefix : "";
  if (sink->stream_salt != NULL) {
    return fprintf(sink->file, "%s#%016" PRIx64 "@%" PRIu64 " %" PRIu64 " %s\n", prefix,
                   SaltedHash(sink->stream_salt, r->stream), r->revision, r->commit_position,
                   r->event_type);
  }
  return fprintf(sink->file, "%s%s@%" PRIu64 " %" PRIu64 " %s\n", prefix, r->stream, r->revision,
                 r->commit_position, r->event_type);
}

/* Synchronous: done() runs before write() returns, which the ABI allows. A sink that talks to a
 * network would start the request here and call done() from its I/O thread. */
static void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records,
                  size_t count, esdb_sink_completion_fn done, void* done_ctx) {
  AuditSink* sink = (AuditSink*)instance;
  char reason[256];
  size_t i;
  for (i = 0; i < count; ++i) {
    if (WriteLine(sink, records[i]) < 0) break;
  }
  if (i < count || fflush(sink->file) != 0 ||
      (sink->fsync_each_batch && fsync(fileno(sink->file)) != 0)) {
    snprintf(reason, sizeof reason, "write failed: %s", strerror(errno));
    clearerr(sink->file);
    /* The host sends the same batch again after a backoff; lines of this attempt may then
     * appear twice, which at-least-once delivery allows. */
    done(done_ctx, ESDB_SINK_RETRY, reason);
    return;
  }
  done(done_ctx, ESDB_SINK_OK, NULL);
}

static esdb_sink_status Flush(esdb_sink_instance* instance, char* err, size_t err_size) {
  AuditSink* sink = (AuditSink*)instance;
  if (fflush(sink->file) == 0 && fsync(fileno(sink->file)) == 0) return ESDB_SINK_OK;
  snprintf(err, err_size, "fsync failed: %s", strerror(errno));
  return ESDB_SINK_RETRY;
}

static void Close(esdb_sink_instance* instance) { FreeSink((AuditSink*)instance); }

static const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1, /* min_host_abi_version: uses nothing newer than ABI 1 */
    "audit-sink",
    "1.0.0",
    "Appends '<prefix><stream>@<revision> <position> <type>' lines to a file.",
    kSettings,
    sizeof kSettings / sizeof kSettings[0],
    Validate,
    Open,
    Write,
    Flush,
    Close,
    0}; /* flags: one write at a time */

/* The one exported symbol (ESDB_SINK_EXPORT; everything else is hidden by esdb_add_sink). */
ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version; /* ABI 1 is the oldest there is; a later plugin could refuse here */
  return &kPlugin;
}
