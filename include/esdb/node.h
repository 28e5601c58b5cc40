/*
 * esdb/node.h: the node ABI of esdb-connectors, version 1.
 *
 * Everything the connectors library needs from a database node goes through one table of function
 * pointers, esdb_node_api, that the host fills in and hands to esdb_connectors_start(). The host
 * may be the node itself (internal hosting), a side-car talking to a node over gRPC (external
 * hosting) or a test. The library cannot tell which.
 *
 * Compatibility follows the rule of esdb/abi.h: `uint32_t struct_size` first, fields only ever
 * appended and read only where the writer's struct_size reaches (ESDB_HAS_FIELD), functions
 * marked OPTIONAL below may be NULL and are checked before each call (ESDB_HAS_FUNCTION), arrays
 * of structs passed as arrays of pointers, error text in caller buffers (err, err_size; always
 * NUL-terminated and truncated to fit), no exception or longjmp across. The library refuses a
 * table whose abi_version is older than the one it needs or whose struct_size does not reach
 * the last field of version 1 (log), and ignores whatever a newer host appends after it.
 *
 * C99 or later, or C++; see esdb/sink.h for how the headers are checked.
 *
 * Threading: every function is thread-safe and may be called from any thread, except that
 * unsubscribe_all() and unwatch_members() must not be called from inside the callbacks they cancel.
 * Callbacks run on threads owned by the host; which one is stated on each.
 */
#ifndef ESDB_NODE_H_
#define ESDB_NODE_H_

#include <stddef.h>
#include <stdint.h>

#include "esdb/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESDB_NODE_ABI_VERSION 1u

typedef int32_t esdb_node_status;
#define ESDB_NODE_OK 0
#define ESDB_NODE_WRONG_EXPECTED_VERSION 1 /* append: the stream is not at the expected revision */
#define ESDB_NODE_STREAM_NOT_FOUND 2
#define ESDB_NODE_STREAM_DELETED 3
#define ESDB_NODE_NOT_LEADER 4      /* writes must go to the leader; the host normally follows */
#define ESDB_NODE_UNAVAILABLE 5     /* transient: node down, connection lost; try again later */
#define ESDB_NODE_INVALID_ARGUMENT 6
#define ESDB_NODE_ACCESS_DENIED 7
#define ESDB_NODE_ERROR 8           /* anything else */

/* Expected revision of an append: a revision >= 0, or one of these. */
#define ESDB_EXPECT_ANY (-2)           /* no check */
#define ESDB_EXPECT_NO_STREAM (-1)     /* the stream must not exist */
#define ESDB_EXPECT_STREAM_EXISTS (-4) /* the stream must exist */

/* A position in the node's global log ($all). Positions of later events compare greater. */
typedef struct esdb_position {
  uint64_t commit;
  uint64_t prepare;
} esdb_position;

/* An event to append. Borrowed for the duration of append(). */
typedef struct esdb_event_data {
  uint32_t struct_size;
  const char* event_id;     /* canonical UUID text; NULL: the node makes one */
  const char* event_type;   /* required */
  const char* content_type; /* e.g. "application/json" or "application/octet-stream" */
  const uint8_t* data;
  size_t data_size;
  const uint8_t* metadata;
  size_t metadata_size;
} esdb_event_data;

/* Result of an append, filled in by the host. */
typedef struct esdb_append_result {
  uint32_t struct_size;
  uint64_t next_expected_revision; /* OK: revision of the last event written */
  esdb_position position;          /* OK: position of the last event written */
  int64_t actual_revision;         /* WRONG_EXPECTED_VERSION: current revision, -1 if no stream */
} esdb_append_result;

/* An event read from the node. Borrowed: valid only during the callback that receives it. The
 * names are whole: a node whose stream names or types may hold a NUL gives it as U+FFFD, never
 * cut there (the library would take "orders\0x" for the stream "orders"). */
typedef struct esdb_recorded_event {
  uint32_t struct_size;
  const char* stream;
  uint64_t revision;
  esdb_position position;
  const char* event_id; /* canonical UUID text, lower case */
  const char* event_type;
  const char* content_type;
  const uint8_t* data;
  size_t data_size;
  const uint8_t* metadata;
  size_t metadata_size;
  int64_t created_unix_us;
} esdb_recorded_event;

#define ESDB_READ_FORWARDS 0
#define ESDB_READ_BACKWARDS 1
#define ESDB_REVISION_END UINT64_MAX /* as from_revision: the last event (for backwards reads) */

/* Called once per event of a stream read, in read order, on the thread that called read_stream.
 * Return 0 to go on, non-zero to stop the read early (read_stream then returns OK). */
typedef int (*esdb_read_event_fn)(void* user, const esdb_recorded_event* event);

/* Where a subscription starts. Events strictly after `position` are delivered for
 * ESDB_FROM_POSITION. */
#define ESDB_FROM_START 0
#define ESDB_FROM_END 1
#define ESDB_FROM_POSITION 2

/* Server-side filter scope. */
#define ESDB_FILTER_NONE 0
#define ESDB_FILTER_STREAM 1     /* match the stream id */
#define ESDB_FILTER_EVENT_TYPE 2 /* match the event type */

typedef struct esdb_subscribe_options {
  uint32_t struct_size;
  int32_t from;           /* ESDB_FROM_* */
  esdb_position position; /* for ESDB_FROM_POSITION */
  int32_t filter_scope;   /* ESDB_FILTER_* */
  /* With a scope: either a regular expression (ECMAScript syntax, matched anywhere in the
   * subject unless anchored) or a list of prefixes. A subject matches if it matches the regex or
   * starts with any prefix. Both may be empty: everything matches. Borrowed for the call. */
  const char* filter_regex; /* NULL: none */
  const char* const* filter_prefixes;
  size_t filter_prefix_count;
  /* How many events the node scans between on_checkpoint calls; 0: the node's default. */
  uint32_t checkpoint_interval;
} esdb_subscribe_options;

/* Callbacks of one subscription. The host calls them one at a time (never concurrently), in log
 * order, on threads it owns that may be shared with other subscriptions (not necessarily the same
 * thread each time). A callback should return promptly. Blocking in on_events to apply
 * back-pressure is allowed, but it holds a shared host thread for as long as it blocks; a host
 * keeps serving other subscriptions meanwhile only as far as it can spare threads. Events are
 * borrowed for the duration of the call. */
typedef struct esdb_subscription_callbacks {
  uint32_t struct_size;
  void* user;
  /* Matching events, in $all order. */
  void (*on_events)(void* user, const esdb_recorded_event* const* events, size_t count);
  /* The node has scanned the log up to `position` and everything matching up to there has been
   * passed to on_events. Sent every checkpoint_interval scanned events, matching or not; a host
   * may send it more often (the dev node also sends one, shortly after appends and at most a few
   * times a second, to a live subscription that scanned events since its last notice), so the
   * library can commit progress on a quiet log. */
  void (*on_checkpoint)(void* user, esdb_position position);
  /* The subscription has reached the end of the log and is now live. `position` is the end. */
  void (*on_caught_up)(void* user, esdb_position position);
  /* The subscription ended by itself (node shutting down, connection lost, error). Last call;
   * not made after unsubscribe_all(). The message is borrowed. */
  void (*on_dropped)(void* user, esdb_node_status status, const char* message);
} esdb_subscription_callbacks;

typedef struct esdb_subscription esdb_subscription; /* opaque, owned by the host */

/* Cluster roles. */
#define ESDB_ROLE_LEADER 0
#define ESDB_ROLE_FOLLOWER 1
#define ESDB_ROLE_READ_ONLY_REPLICA 2
#define ESDB_ROLE_OTHER 3 /* catching up, shutting down, ... */

typedef struct esdb_member {
  uint32_t struct_size;
  const char* member_id; /* stable id of the node (or side-car) */
  int32_t role;          /* ESDB_ROLE_* */
  int32_t alive;         /* non-zero when the member is alive */
  const char* http_endpoint; /* "host:port", may be empty */
} esdb_member;

/* Receives a snapshot of the cluster, on the calling thread. `self_id` is the member this host
 * stands for. All pointers are borrowed for the call. */
typedef void (*esdb_members_fn)(void* user, const esdb_member* const* members, size_t count,
                                const char* self_id);

typedef struct esdb_watch esdb_watch; /* opaque, owned by the host */

#define ESDB_LOG_DEBUG 0
#define ESDB_LOG_INFO 1
#define ESDB_LOG_WARN 2
#define ESDB_LOG_ERROR 3

typedef struct esdb_node_api {
  uint32_t struct_size;
  uint32_t abi_version; /* ESDB_NODE_ABI_VERSION the host was built with */
  void* ctx;            /* passed back as the first argument of every function */
  const char* node_version; /* e.g. "24.10.0"; informational */

  /* Appends events[0..count) atomically if the stream is at expected_revision (or one of
   * ESDB_EXPECT_*). Fills *result (may be NULL). */
  esdb_node_status (*append)(void* ctx, const char* stream, int64_t expected_revision,
                             const esdb_event_data* const* events, size_t count,
                             esdb_append_result* result, char* err, size_t err_size);

  /* Reads up to max_count events of one stream from from_revision (inclusive) in `direction`.
   * A stream that does not exist (or was deleted) gives STREAM_NOT_FOUND. */
  esdb_node_status (*read_stream)(void* ctx, const char* stream, int32_t direction,
                                  uint64_t from_revision, uint64_t max_count,
                                  esdb_read_event_fn on_event, void* user, char* err,
                                  size_t err_size);

  /* Starts a subscription to $all. The callbacks struct is copied; callbacks may start before
   * this returns. On success stores a handle in *out. */
  esdb_node_status (*subscribe_all)(void* ctx, const esdb_subscribe_options* options,
                                    const esdb_subscription_callbacks* callbacks,
                                    esdb_subscription** out, char* err, size_t err_size);

  /* Ends a subscription: when it returns no callback of it is running and none will run.
   * It waits for this subscription's running callback only, never for other subscriptions'.
   * The caller must first make any blocked on_events return. Frees the handle. */
  void (*unsubscribe_all)(void* ctx, esdb_subscription* subscription);

  /* Position of the last event in $all (zero when the log is empty). */
  esdb_node_status (*last_position)(void* ctx, esdb_position* out, char* err, size_t err_size);

  /* OPTIONAL. Stream metadata as a JSON object ("{}" when none is set). The json passed to
   * on_json is borrowed for the call, on the calling thread. */
  esdb_node_status (*get_stream_metadata)(void* ctx, const char* stream,
                                          void (*on_json)(void* user, const char* json,
                                                          size_t size),
                                          void* user, char* err, size_t err_size);
  /* Replaces the stream's metadata with a JSON object (e.g. {"$maxCount": 10}). */
  esdb_node_status (*set_stream_metadata)(void* ctx, const char* stream, const char* json,
                                          char* err, size_t err_size);

  /* OPTIONAL. The current members of the cluster (a single node reports itself as the only
   * leader). NULL: the library takes the host for a single node that leads, member id "local". */
  esdb_node_status (*get_members)(void* ctx, esdb_members_fn on_members, void* user, char* err,
                                  size_t err_size);
  /* OPTIONAL (both or neither). Calls changed(user) on a host thread whenever membership or
   * roles change, until unwatch_members(). NULL: the library polls get_members instead. */
  esdb_node_status (*watch_members)(void* ctx, void (*changed)(void* user), void* user,
                                    esdb_watch** out, char* err, size_t err_size);
  void (*unwatch_members)(void* ctx, esdb_watch* watch);

  /* OPTIONAL. Writes one line to the host's log (level ESDB_LOG_*). NULL: the library logs
   * nothing. Last field of version 1. */
  void (*log)(void* ctx, int32_t level, const char* message);
} esdb_node_api;

static inline const char* esdb_node_status_name(esdb_node_status status) {
  switch (status) {
    case ESDB_NODE_OK: return "OK";
    case ESDB_NODE_WRONG_EXPECTED_VERSION: return "WRONG_EXPECTED_VERSION";
    case ESDB_NODE_STREAM_NOT_FOUND: return "STREAM_NOT_FOUND";
    case ESDB_NODE_STREAM_DELETED: return "STREAM_DELETED";
    case ESDB_NODE_NOT_LEADER: return "NOT_LEADER";
    case ESDB_NODE_UNAVAILABLE: return "UNAVAILABLE";
    case ESDB_NODE_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ESDB_NODE_ACCESS_DENIED: return "ACCESS_DENIED";
    case ESDB_NODE_ERROR: return "ERROR";
    default: return "UNKNOWN";
  }
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ESDB_NODE_H_ */
