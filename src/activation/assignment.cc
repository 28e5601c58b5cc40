#include "activation/assignment.h"

#include "esdb/node.h"

namespace esdb {
namespace {

uint64_t Fnv1a(uint64_t h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Finalizer from SplitMix64: spreads FNV's weak low bits so scores compare fairly.
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t RendezvousScore(const std::string& host_id, const std::string& connector_id) {
  uint64_t h = Fnv1a(0xcbf29ce484222325ULL, host_id);
  h = Fnv1a(h ^ 0xff, connector_id);
  return Mix(h);
}

const char* AffinityName(Affinity affinity) {
  switch (affinity) {
    case Affinity::kLeader: return "leader";
    case Affinity::kFollower: return "follower";
    case Affinity::kReadOnlyReplica: return "readOnlyReplica";
  }
  return "leader";
}

std::optional<std::string> AssignHost(const std::string& connector_id, Affinity affinity,
                                      const std::vector<HostView>& hosts) {
  std::vector<int32_t> tiers;
  switch (affinity) {
    case Affinity::kLeader: tiers = {ESDB_ROLE_LEADER}; break;
    case Affinity::kFollower: tiers = {ESDB_ROLE_FOLLOWER, ESDB_ROLE_LEADER}; break;
    case Affinity::kReadOnlyReplica:
      tiers = {ESDB_ROLE_READ_ONLY_REPLICA, ESDB_ROLE_FOLLOWER, ESDB_ROLE_LEADER};
      break;
  }
  for (int32_t role : tiers) {
    const HostView* best = nullptr;
    uint64_t best_score = 0;
    for (const HostView& h : hosts) {
      if (!h.live || h.role != role) continue;
      uint64_t score = RendezvousScore(h.host_id, connector_id);
      // Ties (practically impossible) go to the smaller id, so every host agrees.
      if (best == nullptr || score > best_score ||
          (score == best_score && h.host_id < best->host_id)) {
        best = &h;
        best_score = score;
      }
    }
    if (best != nullptr) return best->host_id;
  }
  return std::nullopt;
}

}  // namespace esdb
