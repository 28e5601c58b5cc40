#include "devnode/grpc_streams.h"

#include <optional>
#include <string>

#include "devnode/grpc_convert.h"
#include "devnode/grpc_read.h"
#include "devnode/grpc_status.h"

namespace esdb::devnode {
namespace {

using event_store::client::streams::DeleteReq;
using event_store::client::streams::DeleteResp;
using event_store::client::streams::TombstoneReq;
using event_store::client::streams::TombstoneResp;

// Delete and Tombstone differ only in the node call; their messages have the same shape.
template <typename Request, typename Response>
std::optional<GrpcError> DeleteLike(LogNode& node, bool tombstone, const Request& request,
                                    Response* response) {
  if (!request.has_options()) return InvalidArgument("the request has no options");
  const auto& o = request.options();
  absl::StatusOr<std::string> stream = StreamName(o.has_stream_identifier(), o.stream_identifier());
  if (!stream.ok()) return InvalidArgument(std::string(stream.status().message()));
  absl::StatusOr<int64_t> expected = ExpectedRevision(o);
  if (!expected.ok()) return InvalidArgument(std::string(expected.status().message()));
  absl::StatusOr<uint64_t> position =
      tombstone ? node.TombstoneStream(*stream, *expected) : node.DeleteStream(*stream, *expected);
  if (!position.ok()) return FromNodeStatus(position.status(), *stream, *expected);
  response->mutable_position()->set_commit_position(*position);
  response->mutable_position()->set_prepare_position(*position);
  return std::nullopt;
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const std::optional<GrpcError>& error) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (error.has_value()) {
    error->AddTrailersTo(context);
    reactor->Finish(error->status);
  } else {
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

}  // namespace

std::optional<GrpcError> HandleDelete(LogNode& node, const DeleteReq& request,
                                      DeleteResp* response) {
  return DeleteLike(node, /*tombstone=*/false, request, response);
}

std::optional<GrpcError> HandleTombstone(LogNode& node, const TombstoneReq& request,
                                         TombstoneResp* response) {
  return DeleteLike(node, /*tombstone=*/true, request, response);
}

grpc::ServerWriteReactor<event_store::client::streams::ReadResp>* StreamsService::Read(
    grpc::CallbackServerContext* context, const event_store::client::streams::ReadReq* request) {
  return StartRead(node_, context, request);
}

grpc::ServerReadReactor<event_store::client::streams::AppendReq>* StreamsService::Append(
    grpc::CallbackServerContext* context, event_store::client::streams::AppendResp* response) {
  return StartAppend(node_, limits_, context, response);
}

grpc::ServerBidiReactor<event_store::client::streams::BatchAppendReq,
                        event_store::client::streams::BatchAppendResp>*
StreamsService::BatchAppend(grpc::CallbackServerContext* context) {
  return StartBatchAppend(node_, limits_, context);
}

grpc::ServerUnaryReactor* StreamsService::Delete(grpc::CallbackServerContext* context,
                                                 const DeleteReq* request, DeleteResp* response) {
  return FinishUnary(context, HandleDelete(*node_, *request, response));
}

grpc::ServerUnaryReactor* StreamsService::Tombstone(grpc::CallbackServerContext* context,
                                                    const TombstoneReq* request,
                                                    TombstoneResp* response) {
  return FinishUnary(context, HandleTombstone(*node_, *request, response));
}

}  // namespace esdb::devnode
