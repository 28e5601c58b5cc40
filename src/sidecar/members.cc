#include "sidecar/members.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protocol/uuid.h"

namespace esdb::sidecar {
namespace {

using event_store::client::gossip::ClusterInfo;
using event_store::client::gossip::MemberInfo;

std::string EndpointText(const MemberInfo& m) {
  return Endpoint{m.http_end_point().address(), static_cast<uint16_t>(m.http_end_point().port())}
      .ToString();
}

std::string IdOf(const MemberInfo& m) {
  if (m.has_instance_id()) {
    auto text = protocol::UuidToText(m.instance_id());
    if (text.ok()) return *text;
  }
  return EndpointText(m);
}

bool SameHost(const std::string& a, const std::string& b) {
  if (absl::EqualsIgnoreCase(a, b)) return true;
  auto loopback = [](const std::string& h) {
    return h == "localhost" || h == "127.0.0.1" || h == "::1";
  };
  return loopback(a) && loopback(b);
}

}  // namespace

int32_t RoleOf(MemberInfo::VNodeState state) {
  switch (state) {
    case MemberInfo::Leader:
      return ESDB_ROLE_LEADER;
    case MemberInfo::Follower:
      return ESDB_ROLE_FOLLOWER;
    case MemberInfo::ReadOnlyReplica:
      return ESDB_ROLE_READ_ONLY_REPLICA;
    default:
      return ESDB_ROLE_OTHER;
  }
}

std::optional<int> FindSelf(const ClusterInfo& info, const Endpoint& connected) {
  for (int i = 0; i < info.members_size(); ++i) {
    const auto& ep = info.members(i).http_end_point();
    if (ep.port() == connected.port && SameHost(ep.address(), connected.host)) return i;
  }
  if (info.members_size() == 1) return 0;
  return std::nullopt;
}

std::string DefaultMemberId(const ClusterInfo& info, const Endpoint& connected) {
  std::optional<int> self = FindSelf(info, connected);
  if (self && info.members(*self).has_instance_id()) {
    auto text = protocol::UuidToText(info.members(*self).instance_id());
    if (text.ok()) return *text;
  }
  return connected.ToString();
}

std::vector<MemberView> MembersFromGossip(const ClusterInfo& info, const Endpoint& connected,
                                          const std::string& self_id) {
  std::vector<MemberView> out;
  std::optional<int> self = FindSelf(info, connected);
  // Not found by endpoint (e.g. the node is reached through another address): a member whose id
  // is the one this side-car was told to stand for is self.
  for (int i = 0; !self && i < info.members_size(); ++i) {
    if (IdOf(info.members(i)) == self_id) self = i;
  }
  for (int i = 0; i < info.members_size(); ++i) {
    const MemberInfo& m = info.members(i);
    out.push_back(MemberView{self == i ? self_id : IdOf(m), RoleOf(m.state()), m.is_alive(),
                             EndpointText(m)});
  }
  if (!self) out.push_back(MemberView{self_id, ESDB_ROLE_OTHER, true, connected.ToString()});
  return out;
}

}  // namespace esdb::sidecar
