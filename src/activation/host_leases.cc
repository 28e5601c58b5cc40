#include "activation/host_leases.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/json.h"
#include "nlohmann/json.hpp"

namespace esdb {
namespace {
// Heartbeats read back per observation: enough for dozens of hosts within one lease.
constexpr uint64_t kScanBack = 256;
}  // namespace

HostLeases::HostLeases(const NodeClient* node, std::string host_id, std::string member_id,
                       absl::Duration lease)
    : node_(node), host_id_(std::move(host_id)), member_id_(std::move(member_id)), lease_(lease) {}

absl::Status HostLeases::Heartbeat() {
  if (!metadata_set_) {
    if (auto s = node_->SetStreamMetadata(kHostsStream, R"({"$maxCount":1000})"); !s.ok()) return s;
    metadata_set_ = true;
  }
  EventData e;
  e.event_type = kHostHeartbeat;
  e.data = nlohmann::json{{"host", host_id_},
                          {"member", member_id_},
                          {"leaseMs", absl::ToInt64Milliseconds(lease_)}}
               .dump();
  return node_->Append(kHostsStream, ESDB_EXPECT_ANY, std::span<const EventData>(&e, 1)).status();
}

absl::StatusOr<std::vector<HostLease>> HostLeases::Observe(absl::Time now) {
  std::map<std::string, std::pair<uint64_t, Record>> latest;  // host -> newest heartbeat
  absl::Status s = node_->ReadStream(
      kHostsStream, Direction::kBackwards, ESDB_REVISION_END, kScanBack, [&](const Record& r) {
        auto j = ParseJson(r.data, kMaxRequestJsonDepth, "heartbeat").value_or(nullptr);
        if (r.event_type != kHostHeartbeat || !j.is_object() || !j.contains("host") ||
            !j["host"].is_string()) {
          return true;
        }
        std::string host = j["host"];
        if (!latest.contains(host)) latest.emplace(host, std::make_pair(r.revision, r));
        return true;
      });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  std::vector<HostLease> out;
  for (auto& [host, entry] : latest) {
    auto& [revision, record] = entry;
    auto j = ParseJson(record.data, kMaxRequestJsonDepth, "heartbeat").value_or(nullptr);
    std::string member = j.value("member", std::string());
    auto it = seen_.find(host);
    if (it == seen_.end()) {
      // First sighting: trust the node's timestamp, never beyond our own now.
      absl::Time written = absl::FromUnixMicros(record.created_unix_us);
      seen_[host] = Seen{member, revision, std::min(written, now)};
    } else if (revision > it->second.revision) {
      it->second = Seen{member, revision, now};
    }
    const Seen& seen = seen_[host];
    bool live = host == host_id_ || now - seen.advanced_at <= lease_;
    out.push_back(HostLease{host, seen.member_id, live});
  }
  return out;
}

HeartbeatThread::HeartbeatThread(HostLeases* leases,
                                 std::function<void(const absl::Status&)> on_error)
    : leases_(leases), on_error_(std::move(on_error)) {}

HeartbeatThread::~HeartbeatThread() { Stop(); }

void HeartbeatThread::Start() { thread_ = std::thread([this] { Loop(); }); }

void HeartbeatThread::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void HeartbeatThread::Loop() {
  const absl::Duration every = leases_->lease() / 3;
  absl::Time next = absl::Now();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(&stopping_), next);
      if (stopping_) return;
    }
    // Paced from the planned time, not from the end of the append, so a slow append does not
    // push every later beat back.
    next += every;
    if (auto st = leases_->Heartbeat(); !st.ok() && on_error_) on_error_(st);
    absl::Time now = absl::Now();
    if (next < now) next = now;
  }
}

}  // namespace esdb
