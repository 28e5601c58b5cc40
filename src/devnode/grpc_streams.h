// The Streams service of the client protocol over the log node: Read (grpc_read.h), Append and
// BatchAppend (grpc_append.h), Delete and Tombstone (here).
#ifndef ESDB_DEVNODE_GRPC_STREAMS_H_
#define ESDB_DEVNODE_GRPC_STREAMS_H_

#include <optional>

#include "devnode/grpc_access.h"
#include "devnode/grpc_append.h"
#include "devnode/grpc_status.h"
#include "devnode/log_node.h"
#include "streams.grpc.pb.h"

namespace esdb::devnode {

// What Delete and Tombstone do, without the call: fill `response`, or return the error to end
// the call with (a stream `access` does not let the caller write: PERMISSION_DENIED, nothing
// deleted). Apart from the service so they can be driven without a server (tests/fuzz).
std::optional<GrpcError> HandleDelete(LogNode& node,
                                      const event_store::client::streams::DeleteReq& request,
                                      event_store::client::streams::DeleteResp* response,
                                      const StreamAccess& access = {});
std::optional<GrpcError> HandleTombstone(LogNode& node,
                                         const event_store::client::streams::TombstoneReq& request,
                                         event_store::client::streams::TombstoneResp* response,
                                         const StreamAccess& access = {});

// In secure mode every call needs credentials (UNAUTHENTICATED otherwise, before anything is
// read) and each stream is checked against auth/stream_access.h; insecure, anything goes.
class StreamsService final : public event_store::client::streams::Streams::CallbackService {
 public:
  // `node` must outlive the server this service is registered with. `secure`: callers are who
  // the server's BasicAuthProcessor found (grpc_auth.h).
  StreamsService(LogNode* node, AppendLimits limits, bool secure = false)
      : node_(node), limits_(limits), secure_(secure) {}

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
  // The stream check for this call's caller; Unauthenticated for an anonymous caller of a
  // secure server.
  absl::StatusOr<StreamAccess> Admit(grpc::CallbackServerContext* context) const;

  LogNode* const node_;
  const AppendLimits limits_;
  const bool secure_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_STREAMS_H_
