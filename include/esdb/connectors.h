/*
 * esdb/connectors.h: the entry points libesdb_connectors.so exports to its host.
 *
 * A host (the node, a side-car, a test) loads the library, fills an esdb_node_api (esdb/node.h)
 * and calls esdb_connectors_start(). From then on it forwards management HTTP requests
 * (/connectors*, /connector-plugins) to esdb_connectors_handle_http() and may render metrics.
 * esdb_connectors_stop() stops every connector cleanly (final checkpoints) and frees everything.
 *
 * These are the only symbols the library exports. Every function catches everything internally;
 * nothing but plain data crosses the boundary. Compatibility follows the rule of esdb/abi.h: the
 * request and response structs only grow, and each side reads or writes a field of them only
 * where the other's struct_size reaches (ESDB_HAS_FIELD). C99 or later, or C++.
 */
#ifndef ESDB_CONNECTORS_H_
#define ESDB_CONNECTORS_H_

#include <stddef.h>
#include <stdint.h>

#include "esdb/node.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ESDB_CONNECTORS_ABI_VERSION 1u

#if defined(_WIN32)
#define ESDB_CONNECTORS_EXPORT __declspec(dllexport)
#else
#define ESDB_CONNECTORS_EXPORT __attribute__((visibility("default")))
#endif

typedef struct esdb_connectors esdb_connectors; /* opaque */

typedef struct esdb_http_header {
  const char* name;
  const char* value;
} esdb_http_header;

/* Who sent a request, as the host authenticated it (esdb_http_request.auth). The host
 * authenticates (TLS, HTTP Basic, its users); the library authorizes: $admins and $ops may change
 * connectors, any authenticated user may read them, anonymous callers get 401. */
#define ESDB_AUTH_ANONYMOUS 0 /* no (valid) credentials */
#define ESDB_AUTH_USER 1      /* an authenticated user: user and roles say who */
#define ESDB_AUTH_INSECURE 2  /* the host runs without authentication (--insecure): no checks */

/* One HTTP request, borrowed for the duration of esdb_connectors_handle_http(). */
typedef struct esdb_http_request {
  uint32_t struct_size;
  const char* method; /* "GET", "POST", ... */
  const char* path;   /* decoded path without the query, e.g. "/connectors/my-sink" */
  const char* query;  /* raw query string without '?', "" when none */
  const esdb_http_header* const* headers;
  size_t header_count;
  const char* body; /* not NUL-terminated */
  size_t body_size;
  /* The caller. Added after the fields above: a host whose struct_size does not cover them sends
   * anonymous requests (fail closed). */
  int32_t auth;             /* ESDB_AUTH_* */
  const char* user;         /* ESDB_AUTH_USER: the user's name; otherwise ignored */
  const char* const* roles; /* ESDB_AUTH_USER: its groups, e.g. "$admins", "$ops" */
  size_t role_count;
} esdb_http_request;

/* One HTTP response, filled in by the library. The host sets struct_size (the library fills only
 * the fields it covers); content_type, body and headers are owned by the library until
 * esdb_connectors_free_response() is called on the response. */
typedef struct esdb_http_response {
  uint32_t struct_size;
  int32_t status;
  const char* content_type;
  char* body;
  size_t body_size;
  /* Extra response headers, e.g. Allow on a 405 (NULL when none). */
  const esdb_http_header* const* headers;
  size_t header_count;
} esdb_http_response;

/* ABI version of the loaded library. A host accepts any library whose version is at least the
 * one it needs: ESDB_ABI_SATISFIES(esdb_connectors_abi_version(), needed), where `needed` is the
 * version that added the newest entry point or field the host relies on (1 for this release). */
ESDB_CONNECTORS_EXPORT uint32_t esdb_connectors_abi_version(void);

/* Starts the library. `node` must stay valid until esdb_connectors_stop() returns; the library
 * refuses a table older or shorter than node ABI version 1 or without the functions that are
 * not OPTIONAL (esdb/node.h). config_json is an object; keys (all optional, unknown keys and
 * values of the wrong type are an error; docs/architecture.md has the full table):
 *   "pluginsDir": folder searched for libesdb_sink_*.so, each loaded from a private copy
 *                 (default: esdb-connectors/plugins beside the library file),
 *   "memberId":   the cluster member this host serves (default: the node's self member id),
 *   "hostId":     this host's id in leases and connector state (default: the member id),
 *   "leaseMs":    a host silent for longer is taken for dead (default 10000, at least 100),
 *   "scanCheckpointInterval": events the node scans between checkpoint notices (0: node default),
 *   "taskThreads", "sinkThreads", "stopTimeoutMs": the runners' threads (0: by cores), the most
 *                 sink calls at once (64), how long a stop waits for a sink call (10000 ms),
 *   "sinkFilesRoot", "sinkAllowedHosts", "hostEndpoints": where sinks may write and connect
 *                 (default: no files, any destination but the host's own endpoints),
 *   "secretsKeyFile", "secretsPreviousKeyFile": master keys of secret settings,
 *   "logLevel":   accepted and ignored: logging goes through the node API's log function,
 *                 whose level is the host's to choose.
 * Returns 0 and stores a handle in *out, or non-zero with the reason in err. */
ESDB_CONNECTORS_EXPORT int32_t esdb_connectors_start(const esdb_node_api* node,
                                                     const char* config_json,
                                                     esdb_connectors** out, char* err,
                                                     size_t err_size);

/* Handles one management request; thread-safe. Always fills *response (JSON errors included). */
ESDB_CONNECTORS_EXPORT void esdb_connectors_handle_http(esdb_connectors* lib,
                                                        const esdb_http_request* request,
                                                        esdb_http_response* response);

/* Frees what esdb_connectors_handle_http() put in *response. */
ESDB_CONNECTORS_EXPORT void esdb_connectors_free_response(esdb_http_response* response);

/* Prometheus text exposition of the connectors' metrics. Free with esdb_connectors_free_string. */
ESDB_CONNECTORS_EXPORT char* esdb_connectors_metrics(esdb_connectors* lib);
ESDB_CONNECTORS_EXPORT void esdb_connectors_free_string(char* text);

/* Stops every connector cleanly (final checkpoints), then frees the handle. */
ESDB_CONNECTORS_EXPORT void esdb_connectors_stop(esdb_connectors* lib);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ESDB_CONNECTORS_H_ */
