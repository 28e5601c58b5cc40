#include "devnode/grpc_cluster.h"

#include "absl/strings/str_format.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "devnode/event_id.h"
#include "protocol/uuid.h"

namespace esdb::devnode {
namespace {

using event_store::client::gossip::MemberInfo;

MemberInfo::VNodeState StateOf(int32_t role) {
  switch (role) {
    case ESDB_ROLE_LEADER:
      return MemberInfo::Leader;
    case ESDB_ROLE_FOLLOWER:
      return MemberInfo::Follower;
    case ESDB_ROLE_READ_ONLY_REPLICA:
      return MemberInfo::ReadOnlyReplica;
    default:
      return MemberInfo::Unknown;
  }
}

struct Method {
  const char* service;
  const char* method;
  std::vector<const char*> features;
};

}  // namespace

GossipService::GossipService(LogNode* node, std::string advertised_host, uint16_t advertised_port)
    : node_(node),
      host_(std::move(advertised_host)),
      port_(advertised_port),
      instance_id_(NewEventId()) {}

// A stable instance id for a member of a cluster view, so clients that poll gossip see the same
// member each time: 128 bits of two FNV-1a hashes of the member id, printed as a UUID.
std::string GossipService::MemberInstanceId(const std::string& member_id) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : member_id) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b3ULL + 1;
  }
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", static_cast<uint32_t>(a >> 32),
                         static_cast<uint32_t>((a >> 16) & 0xffff), static_cast<uint32_t>(a & 0xffff),
                         static_cast<uint32_t>(b >> 48), b & 0xffffffffffffULL);
}

grpc::ServerUnaryReactor* GossipService::Read(grpc::CallbackServerContext* context,
                                              const event_store::client::Empty* /*request*/,
                                              event_store::client::gossip::ClusterInfo* response) {
  const int64_t now_ticks = absl::ToUnixMicros(absl::Now()) * 10;
  const std::string& self = node_->options().member_id;
  for (const NodeMember& member : node_->Members()) {
    MemberInfo* info = response->add_members();
    const bool is_self = member.member_id == self;
    absl::StatusOr<event_store::client::UUID> id =
        protocol::UuidFromText(is_self ? instance_id_ : MemberInstanceId(member.member_id),
                               protocol::UuidForm::kString);
    if (id.ok()) *info->mutable_instance_id() = *std::move(id);
    info->set_time_stamp(now_ticks);
    info->set_state(StateOf(member.role));
    info->set_is_alive(member.alive);
    if (is_self) {
      info->mutable_http_end_point()->set_address(host_);
      info->mutable_http_end_point()->set_port(port_.load());
    } else {
      std::pair<std::string, std::string> hp =
          absl::StrSplit(member.http_endpoint, absl::MaxSplits(':', 1));
      uint32_t port = 0;
      info->mutable_http_end_point()->set_address(hp.first);
      if (absl::SimpleAtoi(hp.second, &port)) info->mutable_http_end_point()->set_port(port);
    }
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ServerFeaturesService::GetSupportedMethods(
    grpc::CallbackServerContext* context, const event_store::client::Empty* /*request*/,
    event_store::client::server_features::SupportedMethods* response) {
  static const std::vector<Method> kMethods = {
      {"event_store.client.streams.streams", "read", {"position", "events"}},
      {"event_store.client.streams.streams", "append", {}},
      {"event_store.client.streams.streams", "batchappend", {"deadline_duration"}},
      {"event_store.client.streams.streams", "delete", {}},
      {"event_store.client.streams.streams", "tombstone", {}},
      {"event_store.client.gossip.gossip", "read", {}},
      {"event_store.client.server_features.serverfeatures", "getsupportedmethods", {}},
  };
  for (const Method& m : kMethods) {
    auto* method = response->add_methods();
    method->set_method_name(m.method);
    method->set_service_name(m.service);
    for (const char* feature : m.features) method->add_features(feature);
  }
  response->set_event_store_server_version(version_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace esdb::devnode
