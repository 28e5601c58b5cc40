/* test-c-sink: appends "stream revision commit_position event_type" lines to a text file.
 * Written in strict C99 so that building it proves the sink ABI header is plain C.
 *
 * Like file-sink it writes only to files it created: the first line of the file is
 * "test-c-sink output of connector <id>", a missing file appears complete with that line (written
 * to a temporary file, synced, then hard-linked to the name, which never replaces anything), and
 * an existing file without this connector's line is refused untouched. Control characters in
 * stream names and types are written as '?', so each record stays one line. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "esdb/sink.h"

static const esdb_sink_setting kPath = {sizeof(esdb_sink_setting),
                                        "path",
                                        ESDB_SINK_SETTING_STRING,
                                        NULL,
                                        1,
                                        0,
                                        "Text file the records are appended to, one line each; "
                                        "created if missing, else it must be this connector's.",
                                        NULL, ESDB_SINK_TARGET_FILE};
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

static int HasControl(const char* text) {
  const unsigned char* p = (const unsigned char*)text;
  for (; *p != 0; ++p) {
    if (*p < 0x20 || *p == 0x7f) return 1;
  }
  return 0;
}

/* The host's connector id, or "" from a host whose struct predates the field. */
static const char* ConnectorId(const esdb_sink_host* host) {
  if (host == NULL || !ESDB_HAS_FIELD(esdb_sink_host, host, connector_id) ||
      host->connector_id == NULL) {
    return "";
  }
  return host->connector_id;
}

/* Puts a file holding exactly `header` at `path` unless something is there already (then the
 * caller judges it). Returns 0, or an errno value. */
static int CreateWithHeader(const char* path, const char* header) {
  char temporary[4200];
  const char* slash = strrchr(path, '/');
  int dir_length = slash == NULL ? 1 : (int)(slash - path);
  const char* dir = slash == NULL ? "." : path;
  size_t length = strlen(header);
  int fd = -1, attempt, rc, error;
  struct timespec now;
  if (slash == path) dir_length = 0; /* the root folder: "" + "/.test-c-sink-..." */
  for (attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    clock_gettime(CLOCK_REALTIME, &now);
    if (snprintf(temporary, sizeof(temporary), "%.*s/.test-c-sink-%ld-%ld-%d.tmp", dir_length, dir,
                 (long)getpid(), (long)now.tv_nsec, attempt) >= (int)sizeof(temporary)) {
      return ENAMETOOLONG;
    }
    fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno != EEXIST) return errno;
  }
  if (fd < 0) return EEXIST;
  if (write(fd, header, length) != (ssize_t)length || fdatasync(fd) != 0) {
    error = errno != 0 ? errno : EIO;
    close(fd);
    unlink(temporary);
    return error;
  }
  close(fd);
  rc = link(temporary, path); /* fails with EEXIST rather than replace what is there */
  error = errno;
  unlink(temporary);
  return rc == 0 || error == EEXIST ? 0 : error;
}

/* Opens `path` for appending as `connector`'s file, creating it if missing. Returns the stream,
 * or NULL with the reason in err. */
static FILE* OpenOwnFile(const char* path, const char* connector, char* err, size_t err_size) {
  char header[256];
  char first[256];
  size_t length;
  struct stat st;
  int fd, error;
  ssize_t got;
  FILE* file;
  snprintf(header, sizeof(header), "test-c-sink output of connector %s\n", connector);
  length = strlen(header);
  if (stat(path, &st) != 0 && errno == ENOENT && (error = CreateWithHeader(path, header)) != 0) {
    snprintf(err, err_size, "path: cannot open '%s': %s", path, strerror(error));
    return NULL;
  }
  if (stat(path, &st) != 0) {
    snprintf(err, err_size, "path: cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, err_size, "path: '%s' is not a regular file", path);
    return NULL;
  }
  fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    snprintf(err, err_size, "path: cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  got = pread(fd, first, length, 0);
  if (got != (ssize_t)length || memcmp(first, header, length) != 0 || fstat(fd, &st) != 0 ||
      !S_ISREG(st.st_mode)) {
    snprintf(err, err_size,
             "path: '%s' was not written by test-c-sink for connector '%s'; it only appends to "
             "files it created",
             path, connector);
    close(fd);
    return NULL;
  }
  fcntl(fd, F_SETFL, O_APPEND); /* blocking writes again */
  file = fdopen(fd, "a");
  if (file == NULL) {
    snprintf(err, err_size, "out of memory");
    close(fd);
  }
  return file;
}

static esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                             esdb_sink_instance** out, char* err, size_t err_size) {
  const char* path = PathSetting(settings, count);
  TestCSink* sink;
  if (path == NULL || path[0] == '\0') {
    snprintf(err, err_size, "path: required");
    return ESDB_SINK_INVALID_CONFIG;
  }
  if (HasControl(path)) {
    snprintf(err, err_size, "path: contains a control character");
    return ESDB_SINK_INVALID_CONFIG;
  }
  sink = (TestCSink*)malloc(sizeof(TestCSink));
  if (sink == NULL) {
    snprintf(err, err_size, "out of memory");
    return ESDB_SINK_RETRY;
  }
  sink->file = OpenOwnFile(path, ConnectorId(host), err, err_size);
  if (sink->file == NULL) {
    free(sink);
    return ESDB_SINK_INVALID_CONFIG;
  }
  *out = (esdb_sink_instance*)sink;
  return ESDB_SINK_OK;
}

static esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err,
                                 size_t err_size) {
  const char* path = PathSetting(settings, count);
  if (path != NULL && HasControl(path)) {
    snprintf(err, err_size, "path: contains a control character");
    return ESDB_SINK_INVALID_CONFIG;
  }
  return ESDB_SINK_OK;
}

/* Writes `text` with control characters as '?', so that a record stays on its line. */
static int PutClean(const char* text, FILE* file) {
  const unsigned char* p = (const unsigned char*)(text != NULL ? text : "");
  for (; *p != 0; ++p) {
    int c = *p < 0x20 || *p == 0x7f ? '?' : *p;
    if (putc(c, file) == EOF) return 0;
  }
  return 1;
}

static void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records,
                  size_t count, esdb_sink_completion_fn done, void* done_ctx) {
  TestCSink* sink = (TestCSink*)instance;
  char reason[256];
  size_t i;
  for (i = 0; i < count; ++i) {
    const esdb_sink_record* r = records[i];
    if (!PutClean(r->stream, sink->file) ||
        fprintf(sink->file, " %" PRIu64 " %" PRIu64 " ", r->revision, r->commit_position) < 0 ||
        !PutClean(r->event_type, sink->file) || putc('\n', sink->file) == EOF) {
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
    "1.1.0",
    "Appends 'stream revision position type' lines to a file of its own; a C99 example.",
    kSettings,
    sizeof(kSettings) / sizeof(kSettings[0]),
    Validate,
    Open,
    Write,
    NULL,
    Close,
    0}; /* flags */

ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &kPlugin;
}
