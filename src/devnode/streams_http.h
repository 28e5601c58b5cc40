// The dev node's own HTTP routes: health, info, metrics and the classic stream API
// (POST /streams/{stream} with application/vnd.eventstore.events+json, GET /streams/{stream}),
// so curl can write and read events.
#ifndef ESDB_DEVNODE_STREAMS_HTTP_H_
#define ESDB_DEVNODE_STREAMS_HTTP_H_

#include <functional>
#include <optional>
#include <string>

#include "devnode/log_node.h"
#include "http/message.h"

namespace esdb::devnode {

inline constexpr char kDevnodeVersion[] = "24.10.0";

// Handles the dev node's routes for whoever asks (see RefuseNodeRoute). `library_metrics` returns
// the connectors library's metrics text (may be empty). Unknown paths are 404 JSON. In
// /streams/{stream} everything after /streams/ (percent-decoded) is the stream name, '/'
// included.
http::Response HandleNodeRoute(LogNode& node, const http::Request& request,
                               const std::function<std::string()>& library_metrics);

// The 401/403 answer when request.principal may not use the node route the request names, as
// the client protocol decides (auth/stream_access.h): GET /streams/{s} reads s, POST writes it,
// /metrics needs any authenticated user; /health/live and /info stay open (probes, clients
// sizing up the node). nullopt when the request may go on to HandleNodeRoute.
std::optional<http::Response> RefuseNodeRoute(const http::Request& request);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_STREAMS_HTTP_H_
