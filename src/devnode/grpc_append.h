// Streams.Append (client streaming) and Streams.BatchAppend (bidirectional).
//
// Both are callback-API reactors: the append itself runs on the gRPC thread that received the
// last message (a short SQLite transaction), and an idle BatchAppend stream holds no thread.
#ifndef ESDB_DEVNODE_GRPC_APPEND_H_
#define ESDB_DEVNODE_GRPC_APPEND_H_

#include <cstdint>

#include "devnode/log_node.h"
#include "grpcpp/grpcpp.h"
#include "streams.pb.h"

namespace esdb::devnode {

struct AppendLimits {
  // Bytes of data, custom metadata and system metadata one append may carry (the server's
  // maximum append size; official clients report it in MaximumAppendSizeExceeded).
  uint32_t max_append_size = 1024 * 1024;
  // BatchAppend: appends still being received on one call, and their total bytes.
  size_t max_pending_batches = 1024;
  size_t max_pending_bytes = 64 * 1024 * 1024;
};

// Each serves one call and deletes itself when it is done. `node` must outlive the server.
grpc::ServerReadReactor<event_store::client::streams::AppendReq>* StartAppend(
    LogNode* node, const AppendLimits& limits, grpc::CallbackServerContext* context,
    event_store::client::streams::AppendResp* response);

grpc::ServerBidiReactor<event_store::client::streams::BatchAppendReq,
                        event_store::client::streams::BatchAppendResp>*
StartBatchAppend(LogNode* node, const AppendLimits& limits, grpc::CallbackServerContext* context);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_APPEND_H_
