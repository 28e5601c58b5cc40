#include "node_grpc.h"

#include "absl/strings/str_cat.h"
#include "gossip.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "protocol/uuid.h"
#include "streams.grpc.pb.h"

namespace esdb::multinode {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

std::shared_ptr<grpc::Channel> Channel(const std::string& target) {
  return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
}

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

absl::StatusOr<std::map<std::string, GossipMember>> ReadGossip(const std::string& target) {
  using event_store::client::gossip::MemberInfo;
  auto stub = event_store::client::gossip::Gossip::NewStub(Channel(target));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  event_store::client::gossip::ClusterInfo info;
  grpc::Status s = stub->Read(&context, {}, &info);
  if (!s.ok()) return FromGrpc(s, "Gossip.Read");
  std::map<std::string, GossipMember> out;
  for (const auto& m : info.members()) {
    auto id = protocol::UuidToText(m.instance_id());
    if (!id.ok()) return id.status();
    GossipMember member;
    member.instance_id = *id;
    member.alive = m.is_alive();
    switch (m.state()) {
      case MemberInfo::Leader:
        member.role = "leader";
        break;
      case MemberInfo::Follower:
        member.role = "follower";
        break;
      case MemberInfo::ReadOnlyReplica:
        member.role = "readOnlyReplica";
        break;
      default:
        member.role = "other";
        break;
    }
    out[absl::StrCat(m.http_end_point().address(), ":", m.http_end_point().port())] = member;
  }
  return out;
}

absl::StatusOr<std::vector<StoredEvent>> ReadStreamBackwards(const std::string& target,
                                                             const std::string& stream,
                                                             uint64_t count) {
  using event_store::client::streams::ReadReq;
  using event_store::client::streams::ReadResp;
  auto stub = event_store::client::streams::Streams::NewStub(Channel(target));
  ReadReq req;
  auto* o = req.mutable_options();
  o->mutable_stream()->mutable_stream_identifier()->set_stream_name(stream);
  o->mutable_stream()->mutable_end();
  o->set_read_direction(ReadReq::Options::Backwards);
  o->set_count(count);
  o->mutable_no_filter();
  o->mutable_uuid_option()->mutable_string();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  auto reader = stub->Read(&context, req);
  std::vector<StoredEvent> out;
  ReadResp resp;
  while (reader->Read(&resp)) {
    if (resp.has_stream_not_found()) continue;
    if (!resp.has_event()) continue;
    const auto& e = resp.event().event();
    StoredEvent stored;
    stored.revision = e.stream_revision();
    auto type = e.metadata().find("type");
    if (type != e.metadata().end()) stored.event_type = type->second;
    stored.data = e.data();
    out.push_back(std::move(stored));
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpc(s, absl::StrCat("Streams.Read ", stream));
  return out;
}

}  // namespace esdb::multinode
