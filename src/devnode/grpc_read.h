// Streams.Read: one-shot reads of a stream or of $all, and subscriptions to either.
//
// Threading: the call is a callback-API reactor, so an idle subscriber holds no gRPC thread. A
// subscription runs on the log node's subscription thread (one per active subscription, blocked
// on the log's tail while idle); it queues messages for the reactor and blocks when the client
// reads too slowly (a bounded queue), so a slow client slows its own subscription only.
// One-shot reads fetch a batch at a time on gRPC's threads, as the client takes them.
#ifndef ESDB_DEVNODE_GRPC_READ_H_
#define ESDB_DEVNODE_GRPC_READ_H_

#include "devnode/log_node.h"
#include "grpcpp/grpcpp.h"
#include "streams.pb.h"

namespace esdb::devnode {

// Serves one Read call; the reactor deletes itself when the call is done. `node` must outlive
// the gRPC server.
grpc::ServerWriteReactor<event_store::client::streams::ReadResp>* StartRead(
    LogNode* node, grpc::CallbackServerContext* context,
    const event_store::client::streams::ReadReq* request);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_READ_H_
