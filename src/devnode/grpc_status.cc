#include "devnode/grpc_status.h"

#include "absl/strings/str_cat.h"
#include "devnode/node_status.h"
#include "esdb/node.h"
#include "shared.pb.h"

namespace esdb::devnode {
namespace {

constexpr char kRequiredMetadata[] = "type,content-type";

GrpcError Error(grpc::StatusCode code, const std::string& message, const char* exception) {
  GrpcError e{grpc::Status(code, message), {}};
  if (exception != nullptr) e.trailers.emplace_back("exception", exception);
  return e;
}

void SetExpected(event_store::client::WrongExpectedVersion* out, int64_t expected) {
  switch (expected) {
    case ESDB_EXPECT_ANY:
      out->mutable_expected_any();
      break;
    case ESDB_EXPECT_NO_STREAM:
      out->mutable_expected_no_stream();
      break;
    case ESDB_EXPECT_STREAM_EXISTS:
      out->mutable_expected_stream_exists();
      break;
    default:
      out->set_expected_stream_position(static_cast<uint64_t>(expected));
  }
}

google::rpc::Status RpcStatus(google::rpc::Code code, const std::string& message,
                              const google::protobuf::Message& detail) {
  google::rpc::Status out;
  out.set_code(code);
  out.set_message(message);
  out.mutable_details()->PackFrom(detail);
  return out;
}

}  // namespace

void GrpcError::AddTrailersTo(grpc::ServerContextBase* context) const {
  for (const auto& [key, value] : trailers) context->AddTrailingMetadata(key, value);
}

GrpcError FromNodeStatus(const absl::Status& status, const std::string& stream,
                         int64_t expected_revision) {
  const std::string message(status.message());
  switch (ToNodeStatus(status)) {
    case ESDB_NODE_OK:
      return GrpcError{grpc::Status::OK, {}};
    case ESDB_NODE_STREAM_NOT_FOUND: {
      GrpcError e = Error(grpc::StatusCode::NOT_FOUND, message, "stream-not-found");
      e.trailers.emplace_back("stream-name", stream);
      return e;
    }
    case ESDB_NODE_STREAM_DELETED: {
      GrpcError e = Error(grpc::StatusCode::FAILED_PRECONDITION, message, "stream-deleted");
      e.trailers.emplace_back("stream-name", stream);
      return e;
    }
    case ESDB_NODE_WRONG_EXPECTED_VERSION: {
      GrpcError e = Error(grpc::StatusCode::FAILED_PRECONDITION, message, "wrong-expected-version");
      e.trailers.emplace_back("stream-name", stream);
      e.trailers.emplace_back("expected-version", absl::StrCat(expected_revision));
      e.trailers.emplace_back("actual-version", absl::StrCat(ActualRevision(status).value_or(-1)));
      return e;
    }
    case ESDB_NODE_ACCESS_DENIED:
      return Error(grpc::StatusCode::PERMISSION_DENIED, message, "access-denied");
    case ESDB_NODE_INVALID_ARGUMENT:
      return Error(grpc::StatusCode::INVALID_ARGUMENT, message, nullptr);
    case ESDB_NODE_NOT_LEADER:
    case ESDB_NODE_UNAVAILABLE:
      return Error(grpc::StatusCode::UNAVAILABLE, message, nullptr);
    default:
      return Error(grpc::StatusCode::UNKNOWN, message, nullptr);
  }
}

GrpcError InvalidArgument(const std::string& message) {
  return Error(grpc::StatusCode::INVALID_ARGUMENT, message, nullptr);
}

GrpcError MissingRequiredMetadata() {
  GrpcError e = Error(grpc::StatusCode::INVALID_ARGUMENT,
                      "every event needs the 'type' and 'content-type' metadata",
                      "missing-required-metadata-property");
  e.trailers.emplace_back("required-metadata-properties", kRequiredMetadata);
  return e;
}

GrpcError MaximumAppendSizeExceeded(uint32_t max_append_size) {
  GrpcError e = Error(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("Maximum Append Size of ", max_append_size, " Exceeded."),
                      "maximum-append-size-exceeded");
  e.trailers.emplace_back("maximum-append-size", absl::StrCat(max_append_size));
  return e;
}

google::rpc::Status BatchAppendError(const absl::Status& status, const std::string& stream,
                                     int64_t expected_revision) {
  const std::string message(status.message());
  switch (ToNodeStatus(status)) {
    case ESDB_NODE_WRONG_EXPECTED_VERSION: {
      event_store::client::WrongExpectedVersion detail;
      const int64_t actual = ActualRevision(status).value_or(-1);
      if (actual >= 0) {
        detail.set_current_stream_revision(static_cast<uint64_t>(actual));
      } else {
        detail.mutable_current_no_stream();
      }
      SetExpected(&detail, expected_revision);
      return RpcStatus(google::rpc::ALREADY_EXISTS, message, detail);
    }
    case ESDB_NODE_STREAM_DELETED: {
      event_store::client::StreamDeleted detail;
      detail.mutable_stream_identifier()->set_stream_name(stream);
      return RpcStatus(google::rpc::NOT_FOUND, message, detail);
    }
    case ESDB_NODE_ACCESS_DENIED:
      return RpcStatus(google::rpc::PERMISSION_DENIED, message,
                       event_store::client::AccessDenied());
    case ESDB_NODE_INVALID_ARGUMENT:
      return BatchAppendBadRequest(message);
    default:
      return RpcStatus(google::rpc::UNKNOWN, message, event_store::client::Unknown());
  }
}

google::rpc::Status BatchAppendBadRequest(const std::string& message) {
  event_store::client::BadRequest detail;
  detail.set_message(message);
  return RpcStatus(google::rpc::INVALID_ARGUMENT, message, detail);
}

google::rpc::Status BatchAppendTooBig(uint32_t max_append_size) {
  event_store::client::MaximumAppendSizeExceeded detail;
  detail.set_maxappendsize(max_append_size);
  return RpcStatus(google::rpc::INVALID_ARGUMENT,
                   absl::StrCat("Maximum Append Size of ", max_append_size, " Exceeded."), detail);
}

}  // namespace esdb::devnode
