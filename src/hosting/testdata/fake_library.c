/* A stand-in for libesdb_connectors.so that reports ABI version FAKE_ABI_VERSION, so that the
 * host's handshake can be tested against a library newer (or older) than the host. It answers
 * every request with 200 and a body naming what it saw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esdb/connectors.h"

struct esdb_connectors {
  const esdb_node_api* node;
};

static esdb_connectors the_library;

static char* Copy(const char* text) {
  char* out = (char*)malloc(strlen(text) + 1);
  if (out != NULL) strcpy(out, text);
  return out;
}

ESDB_CONNECTORS_EXPORT uint32_t esdb_connectors_abi_version(void) { return FAKE_ABI_VERSION; }

ESDB_CONNECTORS_EXPORT int32_t esdb_connectors_start(const esdb_node_api* node,
                                                     const char* config_json, esdb_connectors** out,
                                                     char* err, size_t err_size) {
  (void)config_json, (void)err, (void)err_size;
  the_library.node = node;
  *out = &the_library;
  return 0;
}

ESDB_CONNECTORS_EXPORT void esdb_connectors_handle_http(esdb_connectors* lib,
                                                        const esdb_http_request* request,
                                                        esdb_http_response* response) {
  char body[256];
  (void)lib;
  snprintf(body, sizeof body, "fake library %u: %s %s", (unsigned)FAKE_ABI_VERSION, request->method,
           request->path);
  response->status = 200;
  response->content_type = Copy("text/plain");
  response->body = Copy(body);
  response->body_size = response->body != NULL ? strlen(body) : 0;
  if (ESDB_HAS_FIELD(esdb_http_response, response, header_count)) {
    response->headers = NULL;
    response->header_count = 0;
  }
}

ESDB_CONNECTORS_EXPORT void esdb_connectors_free_response(esdb_http_response* response) {
  free((char*)response->content_type);
  free(response->body);
}

ESDB_CONNECTORS_EXPORT char* esdb_connectors_metrics(esdb_connectors* lib) {
  (void)lib;
  return Copy("");
}

ESDB_CONNECTORS_EXPORT void esdb_connectors_free_string(char* text) { free(text); }

ESDB_CONNECTORS_EXPORT void esdb_connectors_stop(esdb_connectors* lib) { lib->node = NULL; }
