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
                                    Response* response, const StreamAccess& access) {
  if (!request.has_options()) return InvalidArgument("the request has no options");
  const auto& o = request.options();
  absl::StatusOr<std::string> stream = StreamName(o.has_stream_identifier(), o.stream_identifier());
  if (!stream.ok()) return InvalidArgument(std::string(stream.status().message()));
  absl::StatusOr<int64_t> expected = ExpectedRevision(o);
  if (!expected.ok()) return InvalidArgument(std::string(expected.status().message()));
  if (absl::Status allowed = CheckAccess(access, auth::StreamOperation::kWrite, *stream);
      !allowed.ok()) {
    return AccessError(allowed);
  }
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

// A call refused before it starts: finishes with `error` and goes away.
template <class Reactor>
class RefusedCall final : public Reactor {
 public:
  RefusedCall(grpc::CallbackServerContext* context, const GrpcError& error) {
    error.AddTrailersTo(context);
    this->Finish(error.status);
  }
  void OnDone() override { delete this; }
};

}  // namespace

std::optional<GrpcError> HandleDelete(LogNode& node, const DeleteReq& request, DeleteResp* response,
                                      const StreamAccess& access) {
  return DeleteLike(node, /*tombstone=*/false, request, response, access);
}

std::optional<GrpcError> HandleTombstone(LogNode& node, const TombstoneReq& request,
                                         TombstoneResp* response, const StreamAccess& access) {
  return DeleteLike(node, /*tombstone=*/true, request, response, access);
}

absl::StatusOr<StreamAccess> StreamsService::Admit(grpc::CallbackServerContext* context) const {
  http::Principal caller = CallPrincipal(*context, secure_);
  if (absl::Status s = auth::RequireAuthenticated(caller); !s.ok()) return s;
  return AccessFor(std::move(caller));
}

grpc::ServerWriteReactor<event_store::client::streams::ReadResp>* StreamsService::Read(
    grpc::CallbackServerContext* context, const event_store::client::streams::ReadReq* request) {
  absl::StatusOr<StreamAccess> access = Admit(context);
  if (!access.ok()) {
    return new RefusedCall<grpc::ServerWriteReactor<event_store::client::streams::ReadResp>>(
        context, AccessError(access.status()));
  }
  return StartRead(node_, context, request, *std::move(access));
}

grpc::ServerReadReactor<event_store::client::streams::AppendReq>* StreamsService::Append(
    grpc::CallbackServerContext* context, event_store::client::streams::AppendResp* response) {
  absl::StatusOr<StreamAccess> access = Admit(context);
  if (!access.ok()) {
    return new RefusedCall<grpc::ServerReadReactor<event_store::client::streams::AppendReq>>(
        context, AccessError(access.status()));
  }
  return StartAppend(node_, limits_, context, response, *std::move(access));
}

grpc::ServerBidiReactor<event_store::client::streams::BatchAppendReq,
                        event_store::client::streams::BatchAppendResp>*
StreamsService::BatchAppend(grpc::CallbackServerContext* context) {
  absl::StatusOr<StreamAccess> access = Admit(context);
  if (!access.ok()) {
    return new RefusedCall<grpc::ServerBidiReactor<event_store::client::streams::BatchAppendReq,
                                                   event_store::client::streams::BatchAppendResp>>(
        context, AccessError(access.status()));
  }
  return StartBatchAppend(node_, limits_, context, *std::move(access));
}

grpc::ServerUnaryReactor* StreamsService::Delete(grpc::CallbackServerContext* context,
                                                 const DeleteReq* request, DeleteResp* response) {
  absl::StatusOr<StreamAccess> access = Admit(context);
  if (!access.ok()) return FinishUnary(context, AccessError(access.status()));
  return FinishUnary(context, HandleDelete(*node_, *request, response, *access));
}

grpc::ServerUnaryReactor* StreamsService::Tombstone(grpc::CallbackServerContext* context,
                                                    const TombstoneReq* request,
                                                    TombstoneResp* response) {
  absl::StatusOr<StreamAccess> access = Admit(context);
  if (!access.ok()) return FinishUnary(context, AccessError(access.status()));
  return FinishUnary(context, HandleTombstone(*node_, *request, response, *access));
}

}  // namespace esdb::devnode
