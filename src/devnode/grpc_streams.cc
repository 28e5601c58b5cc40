#include "devnode/grpc_streams.h"

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
grpc::ServerUnaryReactor* DeleteLike(LogNode* node, bool tombstone,
                                     grpc::CallbackServerContext* context, const Request& request,
                                     Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [&](const GrpcError& error) {
    error.AddTrailersTo(context);
    reactor->Finish(error.status);
    return reactor;
  };
  if (!request.has_options()) return fail(InvalidArgument("the request has no options"));
  const auto& o = request.options();
  absl::StatusOr<std::string> stream = StreamName(o.has_stream_identifier(), o.stream_identifier());
  if (!stream.ok()) return fail(InvalidArgument(std::string(stream.status().message())));
  absl::StatusOr<int64_t> expected = ExpectedRevision(o);
  if (!expected.ok()) return fail(InvalidArgument(std::string(expected.status().message())));
  absl::StatusOr<uint64_t> position = tombstone ? node->TombstoneStream(*stream, *expected)
                                                : node->DeleteStream(*stream, *expected);
  if (!position.ok()) return fail(FromNodeStatus(position.status(), *stream, *expected));
  response->mutable_position()->set_commit_position(*position);
  response->mutable_position()->set_prepare_position(*position);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace

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
  return DeleteLike(node_, /*tombstone=*/false, context, *request, response);
}

grpc::ServerUnaryReactor* StreamsService::Tombstone(grpc::CallbackServerContext* context,
                                                    const TombstoneReq* request,
                                                    TombstoneResp* response) {
  return DeleteLike(node_, /*tombstone=*/true, context, *request, response);
}

}  // namespace esdb::devnode
