/*
 * esdb/sink.h: the sink plugin ABI of esdb-connectors, version 1.
 *
 * A sink plugin is a shared object named libesdb_sink_<name>.so that exports one symbol,
 * esdb_sink_entry (ESDB_SINK_ENTRY_SYMBOL), declared below. The host calls it once after dlopen
 * with its own ABI version and gets back a static table (esdb_sink_plugin) that describes the
 * plugin and holds its functions.
 *
 * C standard: this header needs C99 or later (for `static inline` and <stdint.h>); it compiles
 * unchanged as C11, C17 and C++ (where its declarations have C linkage). It is checked with
 * -Wall -Wextra -pedantic -Werror (and -Wmissing-prototypes for C) as C99, C11 and C++17.
 *
 * Compatibility follows the rule of esdb/abi.h, in short:
 *  - Every ABI struct starts with `uint32_t struct_size` (sizeof as the writer compiled it).
 *    Fields are only ever appended; a reader never touches a field beyond the writer's
 *    struct_size (test with ESDB_HAS_FIELD). This holds in both directions: the host checks the
 *    plugin table and each settings entry, a plugin checks esdb_sink_host and esdb_sink_record.
 *  - A function pointer that is NULL means "not supported"; a host or plugin must check before
 *    calling optional functions (marked OPTIONAL below; ESDB_HAS_FUNCTION).
 *  - A plugin states the oldest host ABI it can work with (min_host_abi_version). The host refuses
 *    to load a plugin whose min_host_abi_version is newer than its own ESDB_SINK_ABI_VERSION, and
 *    loads any plugin built for the same or a later version otherwise.
 *  - Arrays of ABI structs are passed as arrays of pointers, so a reader never has to know the
 *    writer's sizeof to index them.
 *
 * Nothing but plain data crosses the boundary: no C++ exceptions, no longjmp, no allocator. Error
 * text is written into caller-supplied buffers (err, err_size), always NUL-terminated and
 * truncated to fit.
 *
 * Threading: the host calls validate() from any thread, possibly concurrently for different
 * settings. For one sink instance, the host calls write(), flush() and close() from one thread at
 * a time and never calls write() again before the previous write's completion has run, unless the
 * plugin declares ESDB_SINK_PIPELINED_WRITES (see esdb_sink_plugin.flags). Different instances of
 * the same plugin may be used concurrently from different threads.
 */
#ifndef ESDB_SINK_H_
#define ESDB_SINK_H_

#include <stddef.h>
#include <stdint.h>

#include "esdb/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESDB_SINK_ABI_VERSION 1u
#define ESDB_SINK_ENTRY_SYMBOL "esdb_sink_entry"

#if defined(_WIN32)
#define ESDB_SINK_EXPORT __declspec(dllexport)
#else
#define ESDB_SINK_EXPORT __attribute__((visibility("default")))
#endif

/* Outcome of a sink call. Plugins must return one of these values; the host treats any other
 * value as ESDB_SINK_FATAL. */
typedef int32_t esdb_sink_status;
#define ESDB_SINK_OK 0             /* done; the host may advance its checkpoint past the batch */
#define ESDB_SINK_RETRY 1          /* transient failure: the host resends the same batch later */
#define ESDB_SINK_FATAL 2          /* permanent failure: the connector goes to FAILED */
#define ESDB_SINK_INVALID_CONFIG 3 /* the settings cannot work (validate/open only) */

/* Log levels for esdb_sink_host.log. */
typedef int32_t esdb_sink_log_level;
#define ESDB_SINK_LOG_DEBUG 0
#define ESDB_SINK_LOG_INFO 1
#define ESDB_SINK_LOG_WARN 2
#define ESDB_SINK_LOG_ERROR 3

/* Kind of value a setting takes; the host checks the type before validate() is called. */
typedef int32_t esdb_sink_setting_type;
#define ESDB_SINK_SETTING_STRING 0
#define ESDB_SINK_SETTING_INT 1   /* decimal integer, optionally negative */
#define ESDB_SINK_SETTING_BOOL 2  /* "true" or "false" */
#define ESDB_SINK_SETTING_ENUM 3  /* one of the '|'-separated words in enum_values */

/* What a setting's value points at, so that the host can hold it to its policy before the plugin
 * sees it (esdb_sink_setting.target). */
typedef int32_t esdb_sink_setting_target;
#define ESDB_SINK_TARGET_NONE 0    /* nothing outside the process */
#define ESDB_SINK_TARGET_FILE 1    /* a file path the sink reads or writes: must lie under the
                                    * host's sink file root; the host passes it resolved */
#define ESDB_SINK_TARGET_NETWORK 2 /* where the sink connects: a URL, "host:port", or a comma-
                                    * separated list of them; checked against the host's allowed
                                    * destinations, never the host's own ports */

/* One setting the plugin understands. `name` is the key as users write it (e.g. "path");
 * a name ending in ":" is a prefix that matches a family of keys (e.g. "defaultHeaders:").
 * All strings are static, owned by the plugin, and live as long as the plugin is loaded. */
typedef struct esdb_sink_setting {
  uint32_t struct_size;
  const char* name;
  esdb_sink_setting_type type;
  const char* default_value; /* NULL: no default */
  int32_t required;          /* non-zero: must be given (a default does not count) */
  int32_t secret;            /* non-zero: never echoed back in clear by the host */
  const char* description;   /* one sentence, shown by GET /connector-plugins */
  const char* enum_values;   /* for ESDB_SINK_SETTING_ENUM: e.g. "debug|info|warn" */
  /* Added after the fields above (a host reads it only when struct_size covers it; older
   * plugins' settings point at nothing). */
  esdb_sink_setting_target target;
} esdb_sink_setting;

/* A key/value pair of connector settings (keys without the host's own prefixes). Borrowed: valid
 * only for the duration of the call that receives it. */
typedef struct esdb_sink_kv {
  const char* key;
  const char* value;
} esdb_sink_kv;

/* One event to deliver. Borrowed from the host: valid from the write() call until the
 * completion for that write has been called, and not a moment longer. Strings are
 * NUL-terminated UTF-8; data and metadata are byte ranges (not NUL-terminated).
 * struct_size is sizeof as the host was built: every field below is there in version 1; a field
 * appended later must be tested with ESDB_HAS_FIELD(esdb_sink_record, record, field) before it
 * is read, since an older host does not send it. */
typedef struct esdb_sink_record {
  uint32_t struct_size;
  const char* stream;           /* stream id, e.g. "orders-42" */
  uint64_t revision;            /* event number within its stream, from 0 */
  uint64_t commit_position;     /* position in the node's global log ($all) */
  uint64_t prepare_position;
  const char* event_id;         /* canonical UUID text, 36 characters, lower case */
  const char* event_type;
  const char* content_type;     /* as the writer gave it, e.g. "application/json" (data is a
                                 * JSON document) or "application/octet-stream" */
  const uint8_t* data;
  size_t data_size;
  const uint8_t* metadata;      /* the user's metadata bytes (usually JSON), may be empty */
  size_t metadata_size;
  int64_t created_unix_us;      /* when the node wrote it, microseconds since the Unix epoch */
} esdb_sink_record;

/* Services the host offers to a sink instance. Owned by the host; valid until close() returns.
 * A field appended after version 1 must be tested with ESDB_HAS_FIELD(esdb_sink_host, host, ...)
 * before use. */
typedef struct esdb_sink_host {
  uint32_t struct_size;
  uint32_t abi_version;
  void* ctx; /* pass back as the first argument of every function below */
  /* Writes one line to the host's log, tagged with the connector id. Thread-safe. */
  void (*log)(void* ctx, esdb_sink_log_level level, const char* message);
  const char* connector_id; /* the connector this instance delivers for */
  /* OPTIONAL: use only when ESDB_HAS_FUNCTION(esdb_sink_host, host, fail_record). Names the record at fault in a write that is about to complete with RETRY or FATAL:
   * `completion_ctx` is the write's done_ctx, `index` the position of that record in the
   * write's array. It says that records[0..index) were delivered and records[index] was refused
   * (records after it were not attempted, or their fate is unknown). Call it before done(), at
   * most once per write, from the thread that then calls done(); a host that tolerates bad
   * records then sets records[index] aside and goes on without resending the ones before it.
   * Calls with a stale completion_ctx or an index out of range are ignored. */
  void (*fail_record)(void* completion_ctx, size_t index);
  /* What the connector's host settings promise the instance (check ESDB_HAS_FIELD first), so
   * that a plugin never needs to read the host's keys: no write() brings more than
   * `max_batch_records` records (batching:batchSize), nor more than `max_batch_bytes` bytes
   * (batching:maxBytes, estimated as the records' strings and payloads plus 64 bytes each),
   * except that a single larger record comes alone. */
  uint32_t max_batch_records;
  uint32_t reserved; /* 0 */
  uint64_t max_batch_bytes;
  /* Which delivery history the instance continues. `generation` is the connector id's: 0 at the
   * first create, higher after the id was deleted and created again. `epoch` grows with every
   * create, reset and enable-from-position of that generation, after which records are
   * delivered again from the new start. A sink that stores the last position it applied
   * (effectively-once) keys that position by connector id, generation and epoch, and ignores a
   * stored position of another generation or an older epoch. */
  uint64_t generation;
  uint64_t epoch;
  /* Added after the fields above (check ESDB_HAS_FIELD; an older host counts as 1): the most
   * writes whose completion the host leaves outstanding on this instance at once
   * (batching:maxInFlight), 1 to 64. Above 1 only for a plugin that declares
   * ESDB_SINK_PIPELINED_WRITES; with 1 the host waits for each completion before the next write,
   * so such a plugin may complete on the caller's thread as it would without the flag. */
  uint32_t max_in_flight;
  uint32_t reserved2; /* 0 */
} esdb_sink_host;

/* Opaque sink instance, created by open() and destroyed by close(). */
typedef struct esdb_sink_instance esdb_sink_instance;

/* Reports the outcome of one write(). Must be called exactly once per write(), from any thread,
 * either before write() returns or later. `message` (may be NULL) explains a non-OK status; it is
 * borrowed for the duration of the call. After it returns the plugin must no longer touch the
 * batch's records. */
typedef void (*esdb_sink_completion_fn)(void* completion_ctx, esdb_sink_status status,
                                        const char* message);

typedef struct esdb_sink_plugin {
  uint32_t struct_size;
  uint32_t abi_version;          /* ESDB_SINK_ABI_VERSION the plugin was compiled with */
  uint32_t min_host_abi_version; /* oldest host ABI the plugin works with */
  const char* name;              /* instanceTypeName, e.g. "file-sink" */
  const char* version;           /* plugin version, e.g. "1.0.0" */
  const char* description;
  const esdb_sink_setting* const* settings; /* the plugin's settings table */
  size_t settings_count;

  /* OPTIONAL. Checks settings beyond what the settings table says (types and required keys are
   * already checked). Returns OK or INVALID_CONFIG with the reason (naming the key) in err. */
  esdb_sink_status (*validate)(const esdb_sink_kv* settings, size_t count, char* err,
                               size_t err_size);

  /* Creates an instance. `host` is valid until close(). On success stores the instance in *out
   * and returns OK; otherwise returns INVALID_CONFIG, RETRY (e.g. broker unreachable) or FATAL
   * with the reason in err. */
  esdb_sink_status (*open)(const esdb_sink_kv* settings, size_t count,
                           const esdb_sink_host* host, esdb_sink_instance** out, char* err,
                           size_t err_size);

  /* Delivers records[0..count) in order. Reports the outcome through done(done_ctx, ...), exactly
   * once. The host does not call write() again on this instance before done() has run, unless
   * flags has ESDB_SINK_PIPELINED_WRITES. */
  void (*write)(esdb_sink_instance* sink, const esdb_sink_record* const* records, size_t count,
                esdb_sink_completion_fn done, void* done_ctx);

  /* OPTIONAL. Makes everything acknowledged so far durable. Called once when an instance that
   * has delivered stops being used, whatever the reason: the connector is disabled, fails, gets
   * new settings (its runner restarts), moves to another host or the host stops. It runs before
   * the final checkpoint: OK lets the host write it; any other status is logged and the host
   * skips that checkpoint, so the records since the last one are delivered again. close()
   * follows either way. An instance that never delivered is closed without a flush. */
  esdb_sink_status (*flush)(esdb_sink_instance* sink, char* err, size_t err_size);

  /* Destroys the instance. No write is in flight when it is called. */
  void (*close)(esdb_sink_instance* sink);

  /* Added after the fields above: a host reads it only when ESDB_HAS_FIELD says the plugin's
   * table has it; an older plugin's table counts as 0. ESDB_SINK_*-flags below, or-ed; bits the
   * host does not know are ignored, so they must be 0. A binary built before this field works
   * unchanged; its source, rebuilt with -Wextra -Werror and a positional initializer, needs a
   * trailing 0 (or designated initializers, which never need one). */
  uint32_t flags;
} esdb_sink_plugin;

/* esdb_sink_plugin.flags: the instance accepts several writes outstanding at once. The host may
 * then call write() again before the completions of earlier writes have run, up to the
 * connector's batching:maxInFlight writes whose completion is outstanding. What still holds:
 * write() itself is called from one thread at a time (never concurrently) and the batches come
 * in log order, each write's records following the previous write's; flush() and close() are
 * called only when no completion is outstanding. What changes: completions may come in any order
 * and from any thread, each exactly once; a record array stays valid until its own completion.
 * The host advances its checkpoint only over the writes acknowledged without a gap. After a RETRY
 * it waits for the other outstanding completions, then writes again from the first batch not
 * acknowledged, in order, so a batch written after the refused one may be delivered twice
 * (at-least-once). A plugin that keeps the order of delivery across writes must not acknowledge
 * a write before the ones written before it are in place. */
#define ESDB_SINK_PIPELINED_WRITES 0x1u

/* The one exported entry point. Returns the plugin's table (static storage, lives as long as the
 * library is loaded), or NULL if the plugin cannot work with host_abi_version. Called once, on the
 * host's start-up thread, right after dlopen.
 *
 * Declared here so that the compiler checks a plugin's definition against it (a wrong signature
 * is a compile error, -Wmissing-prototypes stays quiet) and so that a C++ definition gets C
 * linkage even without its own extern "C". A plugin defines it; a host only looks it up with
 * dlsym and calls it through esdb_sink_entry_fn. */
ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version);
typedef const esdb_sink_plugin* (*esdb_sink_entry_fn)(uint32_t host_abi_version);

/* A readable name for a status value ("OK", "RETRY", ...); "UNKNOWN" for anything else. */
static inline const char* esdb_sink_status_name(esdb_sink_status status) {
  switch (status) {
    case ESDB_SINK_OK: return "OK";
    case ESDB_SINK_RETRY: return "RETRY";
    case ESDB_SINK_FATAL: return "FATAL";
    case ESDB_SINK_INVALID_CONFIG: return "INVALID_CONFIG";
    default: return "UNKNOWN";
  }
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ESDB_SINK_H_ */
