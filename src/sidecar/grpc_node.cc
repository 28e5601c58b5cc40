#include "sidecar/grpc_node.h"

#include "absl/strings/str_cat.h"
#include "core/uuid.h"
#include "protocol/uuid.h"
#include "sidecar/event_view.h"
#include "streams.grpc.pb.h"

namespace esdb::sidecar {
namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::AppendResp;
using event_store::client::streams::ReadReq;
using event_store::client::streams::ReadResp;
using event_store::client::streams::Streams;

// Not-leader redirects one call follows before giving up (leadership may be moving).
constexpr int kMaxRedirects = 3;

CallOutcome Failure(esdb_node_status status, std::string message) {
  return CallOutcome{status, std::move(message), std::nullopt};
}

bool SetExpected(int64_t expected, AppendReq::Options* o) {
  switch (expected) {
    case ESDB_EXPECT_ANY:
      o->mutable_any();
      return true;
    case ESDB_EXPECT_NO_STREAM:
      o->mutable_no_stream();
      return true;
    case ESDB_EXPECT_STREAM_EXISTS:
      o->mutable_stream_exists();
      return true;
    default:
      if (expected < 0) return false;
      o->set_revision(static_cast<uint64_t>(expected));
      return true;
  }
}

}  // namespace

CallOutcome GrpcNode::Run(bool requires_leader, const bool& may_retry,
                          const std::function<grpc::Status(const std::shared_ptr<grpc::Channel>&,
                                                           grpc::ClientContext*)>& call) const {
  for (int hop = 0;; ++hop) {
    auto target = connection_->Current();
    if (!target.ok()) return Failure(ESDB_NODE_UNAVAILABLE, std::string(target.status().message()));
    grpc::ClientContext context;
    connection_->Prepare(&context, requires_leader, /*deadline=*/true);
    grpc::Status status = call(target->channel, &context);
    CallOutcome out = ClassifyCall(status, TrailersOf(context));
    if (out.status == ESDB_NODE_NOT_LEADER && out.leader && may_retry && hop < kMaxRedirects) {
      connection_->FollowLeader(*out.leader, target->generation);
      continue;
    }
    if (out.status == ESDB_NODE_UNAVAILABLE) {
      connection_->ReportUnavailable(target->generation);
      out.message = absl::StrCat(target->endpoint.ToString(), ": ", out.message);
    }
    return out;
  }
}

CallOutcome GrpcNode::Append(const std::string& stream, int64_t expected_revision,
                             const esdb_event_data* const* events, size_t count,
                             esdb_append_result* result) const {
  AppendReq options;
  options.mutable_options()->mutable_stream_identifier()->set_stream_name(stream);
  if (stream.empty()) return Failure(ESDB_NODE_INVALID_ARGUMENT, "the stream name is empty");
  if (!SetExpected(expected_revision, options.mutable_options())) {
    return Failure(ESDB_NODE_INVALID_ARGUMENT,
                   absl::StrCat("bad expected revision ", expected_revision));
  }
  std::vector<AppendReq> messages;
  messages.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const esdb_event_data& e = *events[i];
    if (e.event_type == nullptr || *e.event_type == '\0') {
      return Failure(ESDB_NODE_INVALID_ARGUMENT, "an event has no type");
    }
    AppendReq m;
    auto* p = m.mutable_proposed_message();
    auto id = protocol::UuidFromText(e.event_id != nullptr ? e.event_id : NewUuid(),
                                     protocol::UuidForm::kString);
    if (!id.ok()) {
      return Failure(ESDB_NODE_INVALID_ARGUMENT, absl::StrCat("event id: ", id.status().message()));
    }
    *p->mutable_id() = *std::move(id);
    (*p->mutable_metadata())["type"] = e.event_type;
    (*p->mutable_metadata())["content-type"] =
        e.content_type != nullptr && *e.content_type != '\0' ? e.content_type : "application/json";
    if (e.data_size > 0) p->set_data(reinterpret_cast<const char*>(e.data), e.data_size);
    if (e.metadata_size > 0) {
      p->set_custom_metadata(reinterpret_cast<const char*>(e.metadata), e.metadata_size);
    }
    messages.push_back(std::move(m));
  }

  AppendResp resp;
  const bool may_retry = true;  // nothing is written when a follower refuses
  CallOutcome out =
      Run(/*requires_leader=*/true, may_retry,
          [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context) {
            resp.Clear();
            auto stub = Streams::NewStub(channel);
            auto writer = stub->Append(context, &resp);
            bool open = writer->Write(options);
            for (size_t i = 0; open && i < messages.size(); ++i) {
              open = writer->Write(messages[i]);
            }
            if (open) writer->WritesDone();
            return writer->Finish();
          });
  if (out.status != ESDB_NODE_OK) return out;
  if (resp.has_wrong_expected_version()) {
    const auto& w = resp.wrong_expected_version();
    int64_t actual = -1;
    if (w.current_revision_option_case() == AppendResp::WrongExpectedVersion::kCurrentRevision) {
      actual = static_cast<int64_t>(w.current_revision());
    } else if (w.current_revision_option_20_6_0_case() ==
               AppendResp::WrongExpectedVersion::kCurrentRevision2060) {
      actual = static_cast<int64_t>(w.current_revision_20_6_0());
    }
    if (result != nullptr) result->actual_revision = actual;
    return Failure(ESDB_NODE_WRONG_EXPECTED_VERSION,
                   absl::StrCat("wrong expected version on '", stream, "': expected ",
                                expected_revision, ", actual ", actual));
  }
  if (!resp.has_success()) return Failure(ESDB_NODE_ERROR, "the append answer is empty");
  if (result != nullptr) {
    const auto& s = resp.success();
    result->next_expected_revision = s.current_revision();
    result->position = s.has_position() ? esdb_position{s.position().commit_position(),
                                                        s.position().prepare_position()}
                                        : esdb_position{0, 0};
    result->actual_revision = static_cast<int64_t>(s.current_revision());
  }
  return out;
}

CallOutcome GrpcNode::ReadStream(
    const std::string& stream, int32_t direction, uint64_t from_revision, uint64_t max_count,
    const std::function<bool(const esdb_recorded_event&)>& on_event) const {
  if (stream.empty()) return Failure(ESDB_NODE_INVALID_ARGUMENT, "the stream name is empty");
  if (max_count == 0) return CallOutcome{};
  const bool backwards = direction == ESDB_READ_BACKWARDS;
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_stream()->mutable_stream_identifier()->set_stream_name(stream);
  if (backwards && from_revision == ESDB_REVISION_END) {
    o->mutable_stream()->mutable_end();
  } else if (!backwards && from_revision == 0) {
    o->mutable_stream()->mutable_start();
  } else {
    o->mutable_stream()->set_revision(from_revision);
  }
  o->set_read_direction(backwards ? ReadReq::Options::Backwards : ReadReq::Options::Forwards);
  o->set_count(max_count);
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();

  bool may_retry = true;  // until an event has been handed out
  bool not_found = false;
  bool stopped = false;
  CallOutcome out =
      Run(connection_->prefers_leader(), may_retry,
          [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context) {
            auto stub = Streams::NewStub(channel);
            auto reader = stub->Read(context, req);
            ReadResp resp;
            while (!stopped && reader->Read(&resp)) {
              if (resp.has_stream_not_found()) {
                not_found = true;
              } else if (resp.has_event()) {
                may_retry = false;
                EventView view;
                FillEventView(resp.event().event(), &view);
                if (!on_event(view.view)) {
                  stopped = true;
                  context->TryCancel();
                }
              }
            }
            grpc::Status status = reader->Finish();
            return stopped ? grpc::Status::OK : status;
          });
  if (out.status == ESDB_NODE_OK && not_found) {
    return Failure(ESDB_NODE_STREAM_NOT_FOUND, absl::StrCat("stream '", stream, "' not found"));
  }
  return out;
}

CallOutcome GrpcNode::LastPosition(esdb_position* out) const {
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_all()->mutable_end();
  o->set_read_direction(ReadReq::Options::Backwards);
  o->set_count(1);
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();
  *out = esdb_position{0, 0};
  const bool may_retry = true;
  return Run(connection_->prefers_leader(), may_retry,
             [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context) {
               auto stub = Streams::NewStub(channel);
               auto reader = stub->Read(context, req);
               ReadResp resp;
               while (reader->Read(&resp)) {
                 if (resp.has_event()) {
                   const auto& e = resp.event().event();
                   *out = esdb_position{e.commit_position(), e.prepare_position()};
                 }
               }
               return reader->Finish();
             });
}

CallOutcome GrpcNode::GetStreamMetadata(const std::string& stream, std::string* json) const {
  *json = "{}";
  CallOutcome out =
      ReadStream(absl::StrCat("$$", stream), ESDB_READ_BACKWARDS, ESDB_REVISION_END, 1,
                 [&](const esdb_recorded_event& e) {
                   if (std::string_view(e.event_type) == kMetadataEventType && e.data_size > 0) {
                     json->assign(reinterpret_cast<const char*>(e.data), e.data_size);
                   }
                   return false;
                 });
  if (out.status == ESDB_NODE_STREAM_NOT_FOUND) return CallOutcome{};
  return out;
}

CallOutcome GrpcNode::SetStreamMetadata(const std::string& stream, const std::string& json) const {
  esdb_event_data e{};
  e.struct_size = sizeof(e);
  e.event_type = kMetadataEventType;
  e.content_type = "application/json";
  e.data = reinterpret_cast<const uint8_t*>(json.data());
  e.data_size = json.size();
  const esdb_event_data* events[] = {&e};
  return Append(absl::StrCat("$$", stream), ESDB_EXPECT_ANY, events, 1, nullptr);
}

CallOutcome GrpcNode::GetMembers(std::vector<MemberView>* out) const {
  out->clear();
  auto target = connection_->Current();
  if (!target.ok()) return Failure(ESDB_NODE_UNAVAILABLE, std::string(target.status().message()));
  auto info = connection_->ReadGossip(target->channel);
  if (absl::IsUnimplemented(info.status())) {
    out->push_back(MemberView{self_id_, ESDB_ROLE_LEADER, true, target->endpoint.ToString()});
    return CallOutcome{};
  }
  if (!info.ok()) {
    connection_->ReportUnavailable(target->generation);
    return Failure(ESDB_NODE_UNAVAILABLE, std::string(info.status().message()));
  }
  *out = MembersFromGossip(*info, target->endpoint, self_id_);
  return CallOutcome{};
}

}  // namespace esdb::sidecar
