#include "devnode/grpc_append.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "devnode/grpc_convert.h"
#include "devnode/grpc_metadata_stream.h"
#include "devnode/grpc_status.h"
#include "devnode/node_status.h"
#include "protocol/uuid.h"

namespace esdb::devnode {
namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::BatchAppendReq;
using event_store::client::streams::BatchAppendResp;

// Fills both the pre-20.6.1 fields and the current ones of a wrong-expected-version answer.
void FillWrongExpectedVersion(int64_t expected, int64_t actual,
                              AppendResp::WrongExpectedVersion* out) {
  if (actual >= 0) {
    out->set_current_revision_20_6_0(static_cast<uint64_t>(actual));
    out->set_current_revision(static_cast<uint64_t>(actual));
  } else {
    out->mutable_no_stream_20_6_0();
    out->mutable_current_no_stream();
  }
  switch (expected) {
    case ESDB_EXPECT_ANY:
      out->mutable_any_20_6_0();
      out->mutable_expected_any();
      break;
    case ESDB_EXPECT_STREAM_EXISTS:
      out->mutable_stream_exists_20_6_0();
      out->mutable_expected_stream_exists();
      break;
    case ESDB_EXPECT_NO_STREAM:
      // The old fields had no "no stream": old servers sent -1 as a revision.
      out->set_expected_revision_20_6_0(static_cast<uint64_t>(int64_t{-1}));
      out->mutable_expected_no_stream();
      break;
    default:
      out->set_expected_revision_20_6_0(static_cast<uint64_t>(expected));
      out->set_expected_revision(static_cast<uint64_t>(expected));
  }
}

// The success answer of Append and of BatchAppend: different messages, the same fields.
template <class Success>
void FillSuccess(const AppendResult& result, Success* success) {
  if (result.next_expected_revision == kNoRevision) {
    success->mutable_no_stream();
  } else {
    success->set_current_revision(result.next_expected_revision);
  }
  if (result.position == 0) {
    success->mutable_no_position();
  } else {
    success->mutable_position()->set_commit_position(result.position);
    success->mutable_position()->set_prepare_position(result.position);
  }
}

class AppendCall final : public grpc::ServerReadReactor<AppendReq> {
 public:
  AppendCall(LogNode* node, const AppendLimits& limits, grpc::CallbackServerContext* context,
             AppendResp* response, StreamAccess access)
      : state_(node, limits, std::move(access)), context_(context), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client closed its side (or the call died): append what was sent.
      if (context_->IsCancelled()) return Fail(GrpcError{grpc::Status::CANCELLED, {}});
      if (std::optional<GrpcError> error = state_.Complete(response_)) return Fail(*error);
      return Finish(grpc::Status::OK);
    }
    if (std::optional<GrpcError> error = state_.Take(request_)) return Fail(*error);
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void Fail(const GrpcError& error) {
    error.AddTrailersTo(context_);
    Finish(error.status);
  }

  AppendCallState state_;
  grpc::CallbackServerContext* const context_;
  AppendResp* const response_;
  AppendReq request_;
};

// Reads one request, answers it if it completes an append, then reads the next: requests are
// handled in order and at most one read or one write is in flight.
class BatchAppendCall final : public grpc::ServerBidiReactor<BatchAppendReq, BatchAppendResp> {
 public:
  BatchAppendCall(LogNode* node, const AppendLimits& limits, StreamAccess access)
      : state_(node, limits, std::move(access)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);  // the client is done; unfinished batches drop
    std::optional<BatchAppendResp> answer;
    grpc::Status fatal = state_.Handle(request_, &answer);
    if (!fatal.ok()) return Finish(fatal);
    if (answer.has_value()) {
      response_ = *std::move(answer);
      StartWrite(&response_);
    } else {
      StartRead(&request_);
    }
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  // Touched only by OnReadDone, which never runs concurrently with itself.
  BatchAppendCallState state_;
  BatchAppendReq request_;
  BatchAppendResp response_;
};

}  // namespace

std::optional<GrpcError> AppendCallState::Take(const AppendReq& request) {
  if (!stream_.has_value()) {
    if (request.content_case() != AppendReq::kOptions) {
      return InvalidArgument("the first append message must carry the options");
    }
    const AppendReq::Options& o = request.options();
    absl::StatusOr<std::string> stream =
        StreamName(o.has_stream_identifier(), o.stream_identifier());
    if (!stream.ok()) return InvalidArgument(std::string(stream.status().message()));
    absl::StatusOr<int64_t> expected = ExpectedRevision(o);
    if (!expected.ok()) return InvalidArgument(std::string(expected.status().message()));
    if (absl::Status allowed = CheckAccess(access_, auth::StreamOperation::kWrite, *stream);
        !allowed.ok()) {
      return AccessError(allowed);
    }
    stream_ = *std::move(stream);
    expected_ = *expected;
    return std::nullopt;
  }
  if (request.content_case() != AppendReq::kProposedMessage) {
    return InvalidArgument("append options may be sent only once, first");
  }
  const AppendReq::ProposedMessage& m = request.proposed_message();
  size_ += ProposedSize(m.metadata(), m.custom_metadata(), m.data());
  if (size_ > limits_.max_append_size) return MaximumAppendSizeExceeded(limits_.max_append_size);
  absl::StatusOr<AppendEvent> event =
      ToAppendEvent(m.id(), m.metadata(), m.custom_metadata(), m.data());
  if (!event.ok()) {
    if (event.status().code() == absl::StatusCode::kFailedPrecondition) {
      return MissingRequiredMetadata();
    }
    return InvalidArgument(std::string(event.status().message()));
  }
  events_.push_back(*std::move(event));
  return std::nullopt;
}

std::optional<GrpcError> AppendCallState::Complete(AppendResp* response) {
  if (!stream_.has_value()) return InvalidArgument("the append sent no options");
  absl::StatusOr<AppendResult> result =
      IsMetadataStream(*stream_) ? AppendMetadata(*node_, *stream_, expected_, events_)
                                 : node_->Append(*stream_, expected_, std::move(events_));
  if (result.ok()) {
    FillSuccess(*result, response->mutable_success());
    return std::nullopt;
  }
  if (ToNodeStatus(result.status()) == ESDB_NODE_WRONG_EXPECTED_VERSION) {
    // Reported in the body, with an OK status, as official servers do.
    FillWrongExpectedVersion(expected_, ActualRevision(result.status()).value_or(-1),
                             response->mutable_wrong_expected_version());
    return std::nullopt;
  }
  return FromNodeStatus(result.status(), *stream_, expected_);
}

grpc::Status BatchAppendCallState::Handle(const BatchAppendReq& request,
                                          std::optional<BatchAppendResp>* answer) {
  absl::StatusOr<std::string> key = protocol::UuidToText(request.correlation_id());
  if (!key.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("batch append correlation id: ", key.status().message()));
  }
  auto it = pending_.find(*key);
  if (it == pending_.end()) {
    if (pending_.size() >= limits_.max_pending_batches) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "too many unfinished batch appends on this call");
    }
    it = pending_.emplace(*key, PendingBatch{}).first;
    PendingBatch& batch = it->second;
    batch.correlation_id = request.correlation_id();
    if (!request.has_options()) {
      batch.error = BatchAppendBadRequest("the first message of a batch must carry options");
    } else {
      batch.options = request.options();
      absl::StatusOr<std::string> stream =
          StreamName(batch.options.has_stream_identifier(), batch.options.stream_identifier());
      absl::StatusOr<int64_t> expected = BatchExpectedRevision(batch.options);
      if (!stream.ok()) {
        batch.error = BatchAppendBadRequest(std::string(stream.status().message()));
      } else if (!expected.ok()) {
        batch.error = BatchAppendBadRequest(std::string(expected.status().message()));
      } else if (absl::Status allowed =
                     CheckAccess(access_, auth::StreamOperation::kWrite, *stream);
                 !allowed.ok()) {
        batch.stream = *std::move(stream);
        batch.error = BatchAccessError(allowed);
      } else {
        batch.stream = *std::move(stream);
        batch.expected = *expected;
      }
    }
  }
  PendingBatch& batch = it->second;
  for (const BatchAppendReq::ProposedMessage& m : request.proposed_messages()) {
    if (batch.error.has_value()) break;
    const size_t size = ProposedSize(m.metadata(), m.custom_metadata(), m.data());
    batch.size += size;
    pending_bytes_ += size;
    if (batch.size > limits_.max_append_size) {
      batch.error = BatchAppendTooBig(limits_.max_append_size);
      break;
    }
    absl::StatusOr<AppendEvent> event =
        ToAppendEvent(m.id(), m.metadata(), m.custom_metadata(), m.data());
    if (!event.ok()) {
      batch.error =
          BatchAppendBadRequest(event.status().code() == absl::StatusCode::kFailedPrecondition
                                    ? "every event needs the 'type' and 'content-type' metadata"
                                    : std::string(event.status().message()));
      break;
    }
    batch.events.push_back(*std::move(event));
  }
  if (pending_bytes_ > limits_.max_pending_bytes) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "unfinished batch appends on this call hold too many bytes");
  }
  if (!request.is_final()) return grpc::Status::OK;

  PendingBatch done = std::move(batch);
  pending_.erase(it);
  pending_bytes_ -= done.size;
  *answer = Answer(std::move(done));
  return grpc::Status::OK;
}

BatchAppendResp BatchAppendCallState::Answer(PendingBatch batch) {
  BatchAppendResp resp;
  *resp.mutable_correlation_id() = batch.correlation_id;
  resp.mutable_stream_identifier()->set_stream_name(batch.stream);
  switch (batch.expected) {
    case ESDB_EXPECT_ANY:
      resp.mutable_any();
      break;
    case ESDB_EXPECT_NO_STREAM:
      resp.mutable_no_stream();
      break;
    case ESDB_EXPECT_STREAM_EXISTS:
      resp.mutable_stream_exists();
      break;
    default:
      resp.set_stream_position(static_cast<uint64_t>(batch.expected));
  }
  if (batch.error.has_value()) {
    *resp.mutable_error() = *std::move(batch.error);
    return resp;
  }
  absl::StatusOr<AppendResult> result =
      IsMetadataStream(batch.stream)
          ? AppendMetadata(*node_, batch.stream, batch.expected, batch.events)
          : node_->Append(batch.stream, batch.expected, std::move(batch.events));
  if (!result.ok()) {
    *resp.mutable_error() = BatchAppendError(result.status(), batch.stream, batch.expected);
    return resp;
  }
  FillSuccess(*result, resp.mutable_success());
  return resp;
}

grpc::ServerReadReactor<AppendReq>* StartAppend(LogNode* node, const AppendLimits& limits,
                                                grpc::CallbackServerContext* context,
                                                AppendResp* response, StreamAccess access) {
  return new AppendCall(node, limits, context, response, std::move(access));
}

grpc::ServerBidiReactor<BatchAppendReq, BatchAppendResp>* StartBatchAppend(
    LogNode* node, const AppendLimits& limits, grpc::CallbackServerContext* /*context*/,
    StreamAccess access) {
  return new BatchAppendCall(node, limits, std::move(access));
}

}  // namespace esdb::devnode
