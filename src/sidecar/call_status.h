// How a finished gRPC call of the client protocol reads as a node ABI status (esdb/node.h).
//
// Servers name the failure in the "exception" trailer (PROTOCOL.md "Errors"); the gRPC code is
// the fallback. Connection trouble (UNAVAILABLE, a missed deadline, a cancelled call, a server
// timeout) is ESDB_NODE_UNAVAILABLE: the caller may try again later.
#ifndef ESDB_SIDECAR_CALL_STATUS_H_
#define ESDB_SIDECAR_CALL_STATUS_H_

#include <map>
#include <optional>
#include <string>

#include "esdb/node.h"
#include "grpcpp/grpcpp.h"
#include "sidecar/connection_string.h"

namespace esdb::sidecar {

// The trailers of a finished call, copied out of the ClientContext.
using Trailers = std::multimap<std::string, std::string>;
Trailers TrailersOf(const grpc::ClientContext& context);

struct CallOutcome {
  esdb_node_status status = ESDB_NODE_OK;
  std::string message;
  // NOT_LEADER: where the leader is, when the server said so.
  std::optional<Endpoint> leader;
};

CallOutcome ClassifyCall(const grpc::Status& status, const Trailers& trailers);

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_CALL_STATUS_H_
