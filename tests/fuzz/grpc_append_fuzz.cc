// Streams.Append of the dev node (devnode/grpc_append.h) on any bytes decoded as the sequence of
// AppendReq messages of one call (esdb.fuzz.AppendCall), against the fixture node: each message
// is taken as the reactor takes it (AppendCallState), then the call completes as when the client
// closes its side.
//
// Properties: the call ends with a status a client can expect (never INTERNAL or UNKNOWN); a
// success names the stream's new revision, and the stream's last event is then the last one
// proposed, with its type, content type, data and metadata.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "devnode/grpc_append.h"
#include "devnode/grpc_metadata_stream.h"
#include "fuzz/devnode_fixture.h"
#include "fuzz/fuzz_check.h"
#include "fuzz_calls.pb.h"

namespace {

using esdb::devnode::GrpcError;
using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;

void CheckError(const GrpcError& error) {
  const grpc::StatusCode code = error.status.error_code();
  FUZZ_CHECK(code != grpc::StatusCode::OK && code != grpc::StatusCode::INTERNAL &&
                 code != grpc::StatusCode::UNKNOWN,
             "append failed with %d: %s", static_cast<int>(code),
             error.status.error_message().c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  esdb::fuzz::AppendCall call;
  if (!call.ParseFromArray(data, static_cast<int>(size))) return 0;
  std::unique_ptr<esdb::devnode::LogNode> node = esdb::fuzz::FixtureNode();
  esdb::devnode::AppendLimits limits;
  limits.max_append_size = 64 * 1024;  // reachable by the fuzzer's inputs
  esdb::devnode::AppendCallState state(node.get(), limits);

  std::optional<GrpcError> error;
  for (const AppendReq& request : call.requests()) {
    if ((error = state.Take(request))) break;
  }
  AppendResp response;
  if (!error) error = state.Complete(&response);
  if (error) {
    CheckError(*error);
    node->Shutdown();
    return 0;
  }
  FUZZ_CHECK(response.has_success() || response.has_wrong_expected_version());

  // The stream of a successful append ends with the last message proposed.
  const AppendReq* last = nullptr;
  for (const AppendReq& request : call.requests()) {
    if (request.has_proposed_message()) last = &request;
  }
  const std::string& stream = call.requests(0).options().stream_identifier().stream_name();
  if (response.has_success() && last != nullptr && !esdb::devnode::IsMetadataStream(stream)) {
    absl::StatusOr<std::vector<esdb::devnode::RecordedEvent>> tail =
        node->ReadStream(stream, esdb::devnode::ReadDirection::kBackwards, ESDB_REVISION_END, 1);
    FUZZ_CHECK(tail.ok() && tail->size() == 1, "appended to '%s' but cannot read it back",
               stream.c_str());
    const esdb::devnode::RecordedEvent& e = tail->front();
    const auto& m = last->proposed_message();
    FUZZ_CHECK(response.success().current_revision() == e.revision);
    FUZZ_CHECK(e.event_type == m.metadata().at("type") &&
                   e.content_type == m.metadata().at("content-type") && e.data == m.data() &&
                   e.metadata == m.custom_metadata(),
               "the event read back differs from the one appended");
  }
  node->Shutdown();
  return 0;
}
