// Streams.BatchAppend of the dev node (devnode/grpc_append.h) on any bytes decoded as the
// sequence of BatchAppendReq messages of one call (esdb.fuzz.BatchAppendCall), against the
// fixture node, each taken as the reactor takes it (BatchAppendCallState).
//
// Properties: a status that ends the call is INVALID_ARGUMENT or RESOURCE_EXHAUSTED; every
// answer carries the correlation id of the request that completed it and either a success or an
// error whose code is not INTERNAL or UNKNOWN; a success reports a revision the stream has.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "code.pb.h"
#include "devnode/grpc_append.h"
#include "devnode/grpc_metadata_stream.h"
#include "fuzz/devnode_fixture.h"
#include "fuzz/fuzz_check.h"
#include "fuzz_calls.pb.h"
#include "protocol/uuid.h"

namespace {

using event_store::client::streams::BatchAppendReq;
using event_store::client::streams::BatchAppendResp;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  esdb::fuzz::BatchAppendCall call;
  if (!call.ParseFromArray(data, static_cast<int>(size))) return 0;
  std::unique_ptr<esdb::devnode::LogNode> node = esdb::fuzz::FixtureNode();
  esdb::devnode::AppendLimits limits;
  limits.max_append_size = 64 * 1024;
  limits.max_pending_batches = 8;
  limits.max_pending_bytes = 256 * 1024;
  esdb::devnode::BatchAppendCallState state(node.get(), limits);

  for (const BatchAppendReq& request : call.requests()) {
    std::optional<BatchAppendResp> answer;
    grpc::Status status = state.Handle(request, &answer);
    if (!status.ok()) {
      FUZZ_CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                     status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED,
                 "the call ended with %d: %s", static_cast<int>(status.error_code()),
                 status.error_message().c_str());
      break;
    }
    if (!answer) continue;
    FUZZ_CHECK(request.is_final(), "an answer to a request that was not final");
    // The same id, though not necessarily in the same form: the batch answers with the id as its
    // first request wrote it.
    FUZZ_CHECK(esdb::protocol::UuidToText(answer->correlation_id()).value_or("?") ==
                   esdb::protocol::UuidToText(request.correlation_id()).value_or("!"),
               "the answer carries another correlation id");
    if (answer->has_error()) {
      FUZZ_CHECK(answer->error().code() != google::rpc::INTERNAL &&
                     answer->error().code() != google::rpc::UNKNOWN,
                 "batch failed with %d: %s", answer->error().code(),
                 answer->error().message().c_str());
      continue;
    }
    FUZZ_CHECK(answer->has_success(), "an answer with neither success nor error");
    const std::string& stream = answer->stream_identifier().stream_name();
    if (answer->success().has_current_revision() && !esdb::devnode::IsMetadataStream(stream)) {
      absl::StatusOr<std::vector<esdb::devnode::RecordedEvent>> tail =
          node->ReadStream(stream, esdb::devnode::ReadDirection::kBackwards, ESDB_REVISION_END, 1);
      FUZZ_CHECK(tail.ok() && tail->size() == 1 &&
                     tail->front().revision == answer->success().current_revision(),
                 "'%s' does not end at the revision the answer reports", stream.c_str());
    }
  }
  node->Shutdown();
  return 0;
}
