// The Streams service of the client protocol over the log node: Read (grpc_read.h), Append and
// BatchAppend (grpc_append.h), Delete and Tombstone (here).
#ifndef ESDB_DEVNODE_GRPC_STREAMS_H_
#define ESDB_DEVNODE_GRPC_STREAMS_H_

#include <optional>

#include "devnode/grpc_append.h"
#include "devnode/grpc_status.h"
#include "devnode/log_node.h"
#include "streams.grpc.pb.h"

namespace esdb::devnode {

// What Delete and Tombstone do, without the call: fill `response`, or return the error to end
// the call with. Apart from the service so they can be driven without a server (tests/fuzz).
std::optional<GrpcError> HandleDelete(LogNode& node,
                                      const event_store::client::streams::DeleteReq& request,
                                      event_store::client::streams::DeleteResp* response);
std::optional<GrpcError> HandleTombstone(LogNode& node,
                                         const event_store::client::streams::TombstoneReq& request,
                                         event_store::client::streams::TombstoneResp* response);

class StreamsService final : public event_store::client::streams::Streams::CallbackService {
 public:
  // `node` must outlive the server this service is registered with.
  StreamsService(LogNode* node, AppendLimits limits) : node_(node), limits_(limits) {}

  grpc::ServerWriteReactor<event_store::client::streams::ReadResp>* Read(
      grpc::CallbackServerContext* context,
      const event_store::client::streams::ReadReq* request) override;
  grpc::ServerReadReactor<event_store::client::streams::AppendReq>* Append(
      grpc::CallbackServerContext* context,
      event_store::client::streams::AppendResp* response) override;
  grpc::ServerBidiReactor<event_store::client::streams::BatchAppendReq,
                          event_store::client::streams::BatchAppendResp>*
  BatchAppend(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const event_store::client::streams::DeleteReq* request,
                                   event_store::client::streams::DeleteResp* response) override;
  grpc::ServerUnaryReactor* Tombstone(
      grpc::CallbackServerContext* context,
      const event_store::client::streams::TombstoneReq* request,
      event_store::client::streams::TombstoneResp* response) override;

 private:
  LogNode* const node_;
  const AppendLimits limits_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_STREAMS_H_
