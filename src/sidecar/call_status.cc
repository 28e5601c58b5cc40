#include "sidecar/call_status.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace esdb::sidecar {
namespace {

std::string Find(const Trailers& trailers, const std::string& key) {
  auto it = trailers.find(key);
  return it == trailers.end() ? std::string() : it->second;
}

esdb_node_status FromCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return ESDB_NODE_OK;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:  // the server's own timeout
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ESDB_NODE_UNAVAILABLE;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return ESDB_NODE_ACCESS_DENIED;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return ESDB_NODE_INVALID_ARGUMENT;
    case grpc::StatusCode::NOT_FOUND:
      return ESDB_NODE_STREAM_NOT_FOUND;
    default:
      return ESDB_NODE_ERROR;
  }
}

}  // namespace

Trailers TrailersOf(const grpc::ClientContext& context) {
  Trailers out;
  for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
    out.emplace(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
  }
  return out;
}

CallOutcome ClassifyCall(const grpc::Status& status, const Trailers& trailers) {
  CallOutcome out;
  if (status.ok()) return out;
  const std::string exception = Find(trailers, "exception");
  out.message = exception.empty() ? absl::StrCat("gRPC ", static_cast<int>(status.error_code()),
                                                 ": ", status.error_message())
                                  : absl::StrCat(exception, ": ", status.error_message());
  if (exception == "not-leader") {
    out.status = ESDB_NODE_NOT_LEADER;
    const std::string host = Find(trailers, "leader-endpoint-host");
    uint32_t port = 0;
    if (!host.empty() && absl::SimpleAtoi(Find(trailers, "leader-endpoint-port"), &port) &&
        port > 0 && port <= 65535) {
      out.leader = Endpoint{host, static_cast<uint16_t>(port)};
    }
  } else if (exception == "stream-not-found") {
    out.status = ESDB_NODE_STREAM_NOT_FOUND;
  } else if (exception == "stream-deleted") {
    out.status = ESDB_NODE_STREAM_DELETED;
  } else if (exception == "wrong-expected-version") {
    out.status = ESDB_NODE_WRONG_EXPECTED_VERSION;
  } else if (exception == "access-denied") {
    out.status = ESDB_NODE_ACCESS_DENIED;
  } else if (exception == "maximum-append-size-exceeded" ||
             exception == "missing-required-metadata-property") {
    out.status = ESDB_NODE_INVALID_ARGUMENT;
  } else {
    out.status = FromCode(status.error_code());
    if (out.status == ESDB_NODE_OK) out.status = ESDB_NODE_ERROR;
  }
  return out;
}

}  // namespace esdb::sidecar
