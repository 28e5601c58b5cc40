// Streams.Append (client streaming) and Streams.BatchAppend (bidirectional).
//
// Both are callback-API reactors: the append itself runs on the gRPC thread that received the
// last message (a short SQLite transaction), and an idle BatchAppend stream holds no thread.
#ifndef ESDB_DEVNODE_GRPC_APPEND_H_
#define ESDB_DEVNODE_GRPC_APPEND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "devnode/grpc_access.h"
#include "devnode/grpc_status.h"
#include "devnode/log_node.h"
#include "grpcpp/grpcpp.h"
#include "status.pb.h"
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

// What one Append call does with its messages, apart from the reactor that receives them, so
// that it can also be driven without a server (tests/fuzz). Not thread-safe: one call's messages
// arrive one at a time.
class AppendCallState {
 public:
  // `node` must outlive this object. `access` decides whether the caller may write the stream
  // the options name (empty: anyone may).
  AppendCallState(LogNode* node, const AppendLimits& limits, StreamAccess access = {})
      : node_(node), limits_(limits), access_(std::move(access)) {}

  // Takes the call's next message: first the options, then proposed messages. An error ends the
  // call with it (a stream the caller may not write: PERMISSION_DENIED, before any event is
  // read).
  std::optional<GrpcError> Take(const event_store::client::streams::AppendReq& request);
  // The client has sent everything: appends and fills `response` (a wrong expected version is a
  // body answer with an OK status, as official servers send it), or returns the error to end
  // the call with.
  std::optional<GrpcError> Complete(event_store::client::streams::AppendResp* response);

 private:
  LogNode* const node_;
  const AppendLimits limits_;
  const StreamAccess access_;
  std::optional<std::string> stream_;
  int64_t expected_ = ESDB_EXPECT_ANY;
  std::vector<AppendEvent> events_;
  size_t size_ = 0;
};

// One append being received on a BatchAppend call.
struct PendingBatch {
  event_store::client::UUID correlation_id;
  std::string stream;
  int64_t expected = ESDB_EXPECT_ANY;
  event_store::client::streams::BatchAppendReq::Options options;
  std::vector<AppendEvent> events;
  size_t size = 0;
  std::optional<google::rpc::Status> error;  // set: answer with it when the batch is final
};

// What one BatchAppend call does with its messages, apart from the reactor (as AppendCallState).
class BatchAppendCallState {
 public:
  // `node` must outlive this object. `access` as for AppendCallState.
  BatchAppendCallState(LogNode* node, const AppendLimits& limits, StreamAccess access = {})
      : node_(node), limits_(limits), access_(std::move(access)) {}

  // Takes one request. Sets *answer when an append completed; a non-OK status ends the call. A
  // batch for a stream the caller may not write is answered with an access-denied error; the
  // call goes on.
  grpc::Status Handle(const event_store::client::streams::BatchAppendReq& request,
                      std::optional<event_store::client::streams::BatchAppendResp>* answer);

 private:
  event_store::client::streams::BatchAppendResp Answer(PendingBatch batch);

  LogNode* const node_;
  const AppendLimits limits_;
  const StreamAccess access_;
  absl::flat_hash_map<std::string, PendingBatch> pending_;
  size_t pending_bytes_ = 0;
};

// Each serves one call and deletes itself when it is done. `node` must outlive the server.
grpc::ServerReadReactor<event_store::client::streams::AppendReq>* StartAppend(
    LogNode* node, const AppendLimits& limits, grpc::CallbackServerContext* context,
    event_store::client::streams::AppendResp* response, StreamAccess access = {});

grpc::ServerBidiReactor<event_store::client::streams::BatchAppendReq,
                        event_store::client::streams::BatchAppendResp>*
StartBatchAppend(LogNode* node, const AppendLimits& limits, grpc::CallbackServerContext* context,
                 StreamAccess access = {});

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_GRPC_APPEND_H_
