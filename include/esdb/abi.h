/*
 * esdb/abi.h: the one compatibility rule shared by the C ABIs of esdb-connectors.
 *
 * Three ABIs meet at the connectors library:
 *   - the node ABI (esdb/node.h): a host hands the library a table of node functions;
 *   - the library ABI (esdb/connectors.h): a host calls the library's entry points;
 *   - the sink ABI (esdb/sink.h): the library loads sink plugins and calls their table.
 * Each side may be built years before or after the other. All three keep working together by
 * the same four rules:
 *
 *  1. Structs only grow. Every ABI struct starts with `uint32_t struct_size`, which the writer
 *     sets to sizeof(the struct) as it was compiled. Fields are only ever appended, never
 *     removed, moved or given another meaning. A reader reads a field only when ESDB_HAS_FIELD
 *     says the writer's struct reaches it; a field beyond that is absent (treat it as NULL or
 *     zero), and what lies past the reader's own sizeof is ignored. The fields a struct had in
 *     version 1 are its required prefix: a reader may refuse a struct shorter than that.
 *
 *  2. Versions only grow. Each ABI has one version number (ESDB_NODE_ABI_VERSION,
 *     ESDB_CONNECTORS_ABI_VERSION, ESDB_SINK_ABI_VERSION), raised by one in a release that
 *     appends to it. A change that appending cannot express is not a new version of the same
 *     ABI: it gets new names (a new entry symbol, new structs) that a host can offer beside the
 *     old ones. So the names are the major version, and under one set of names a higher
 *     version number always works wherever a lower one did.
 *
 *  3. Minimum-version handshake. Each side says which version it was built with, and the side
 *     that depends on the other names the oldest version of it that it can use;
 *     ESDB_ABI_SATISFIES(offered, needed) is the test.
 *       sink ABI:    the host passes its version to esdb_sink_entry(); the plugin's table says
 *                    min_host_abi_version; the host refuses a plugin that needs a newer host.
 *       node ABI:    the host sets esdb_node_api.abi_version; the library refuses a table older
 *                    than the version it needs (1 for this release).
 *       library ABI: esdb_connectors_abi_version(); a host refuses a library older than the
 *                    version it needs and takes any newer one.
 *
 *  4. OPTIONAL functions are checked before use. A function pointer marked OPTIONAL may be NULL,
 *     meaning "not offered"; the caller checks ESDB_HAS_FUNCTION (inside the writer's struct and
 *     not NULL) before every call. A function appended in a later version is OPTIONAL to every
 *     reader, since an older writer does not have it.
 *
 * Plain C99 (also valid C11 and C++); needs nothing but <stddef.h> and <stdint.h>.
 */
#ifndef ESDB_ABI_H_
#define ESDB_ABI_H_

#include <stddef.h>
#include <stdint.h>

/* The bytes of `type` up to and including `field`: the struct_size a writer must at least have
 * for `field` to be there. For the last field of a version, the size of that version. */
#define ESDB_FIELD_END(type, field) (offsetof(type, field) + sizeof(((type*)0)->field))

/* Non-zero when the struct at `ptr` (of ABI type `type`), as its writer sized it, has `field`. */
#define ESDB_HAS_FIELD(type, ptr, field) ((size_t)(ptr)->struct_size >= ESDB_FIELD_END(type, field))

/* Non-zero when the OPTIONAL function `fn` of the table at `ptr` may be called: the writer's
 * struct has the field and it is not NULL. */
#define ESDB_HAS_FUNCTION(type, ptr, fn) (ESDB_HAS_FIELD(type, ptr, fn) && (ptr)->fn != NULL)

/* Non-zero when an ABI version `offered` by the other side is one this side can use, given the
 * oldest version it `needed`. Versions start at 1; 0 is never valid. */
#define ESDB_ABI_SATISFIES(offered, needed) \
  ((uint32_t)(offered) != 0u && (uint32_t)(offered) >= (uint32_t)(needed))

#endif /* ESDB_ABI_H_ */
