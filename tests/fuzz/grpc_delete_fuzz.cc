// Streams.Delete and Streams.Tombstone of the dev node (devnode/grpc_streams.h) on any bytes,
// decoded as a DeleteReq and, the same bytes, as a TombstoneReq (the two messages have the same
// shape), each against its own fixture node.
//
// Properties: a failure has a status a client can expect (never INTERNAL or UNKNOWN); after a
// delete the stream reads as not found (or deleted); after a tombstone it can never be written
// again.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "devnode/grpc_streams.h"
#include "devnode/node_status.h"
#include "fuzz/devnode_fixture.h"
#include "fuzz/fuzz_check.h"

namespace {

using esdb::devnode::GrpcError;

void CheckError(const GrpcError& error) {
  const grpc::StatusCode code = error.status.error_code();
  FUZZ_CHECK(code != grpc::StatusCode::OK && code != grpc::StatusCode::INTERNAL &&
                 code != grpc::StatusCode::UNKNOWN,
             "failed with %d: %s", static_cast<int>(code), error.status.error_message().c_str());
}

template <typename Request, typename Response>
void Run(const uint8_t* data, size_t size, bool tombstone) {
  Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  std::unique_ptr<esdb::devnode::LogNode> node = esdb::fuzz::FixtureNode();
  Response response;
  std::optional<GrpcError> error;
  if constexpr (std::is_same_v<Request, event_store::client::streams::TombstoneReq>) {
    error = esdb::devnode::HandleTombstone(*node, request, &response);
  } else {
    error = esdb::devnode::HandleDelete(*node, request, &response);
  }
  if (error) {
    CheckError(*error);
    node->Shutdown();
    return;
  }
  const std::string& stream = request.options().stream_identifier().stream_name();
  FUZZ_CHECK(response.position().commit_position() == node->LastPosition());
  absl::StatusOr<std::vector<esdb::devnode::RecordedEvent>> read =
      node->ReadStream(stream, esdb::devnode::ReadDirection::kForwards, 0, 10);
  FUZZ_CHECK(!read.ok(), "'%s' still reads after a %s", stream.c_str(),
             tombstone ? "tombstone" : "delete");
  if (tombstone) {
    absl::StatusOr<esdb::devnode::AppendResult> again =
        node->Append(stream, ESDB_EXPECT_ANY, {esdb::fuzz::FixtureEvent("AfterTombstone", "{}")});
    FUZZ_CHECK(
        !again.ok() && esdb::devnode::ToNodeStatus(again.status()) == ESDB_NODE_STREAM_DELETED,
        "'%s' accepts appends after a tombstone", stream.c_str());
  }
  node->Shutdown();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Run<event_store::client::streams::DeleteReq, event_store::client::streams::DeleteResp>(
      data, size, /*tombstone=*/false);
  Run<event_store::client::streams::TombstoneReq, event_store::client::streams::TombstoneResp>(
      data, size, /*tombstone=*/true);
  return 0;
}
