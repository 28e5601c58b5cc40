#include "sidecar/node_connection.h"

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace esdb::sidecar {
namespace {

using event_store::client::gossip::ClusterInfo;
using event_store::client::gossip::MemberInfo;

// Reconnection backoff of every channel: quick first retries, never more than this apart.
constexpr int kMinReconnectMs = 100;
constexpr int kMaxReconnectMs = 2000;
constexpr int kMaxMessageBytes = 64 << 20;

std::chrono::system_clock::time_point After(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const ConnectionSettings& s) {
  if (!s.tls) return grpc::InsecureChannelCredentials();
  std::string roots;
  if (!s.tls_ca_file.empty()) {
    std::ifstream in(s.tls_ca_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tlsCAFile: cannot read '", s.tls_ca_file, "'"));
    }
    roots = text.str();
    if (roots.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tlsCAFile: '", s.tls_ca_file, "' is missing or empty"));
    }
  }
  if (s.tls_verify_cert) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = roots;  // empty: the system's roots
    return grpc::SslCredentials(options);
  }
  // tlsVerifyCert=false: encrypted, but any certificate and host name is accepted.
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  auto creds = grpc::experimental::TlsCredentials(options);
  if (creds == nullptr) {
    return absl::InvalidArgumentError(
        "tlsVerifyCert=false is not supported by this gRPC build; use tls=false or a CA file");
  }
  return creds;
}

bool Serves(MemberInfo::VNodeState state) {
  return state == MemberInfo::Leader || state == MemberInfo::Follower ||
         state == MemberInfo::ReadOnlyReplica;
}

}  // namespace

std::optional<Endpoint> PickMember(const ClusterInfo& info, NodePreference preference) {
  MemberInfo::VNodeState wanted = MemberInfo::Leader;
  if (preference == NodePreference::kFollower) wanted = MemberInfo::Follower;
  if (preference == NodePreference::kReadOnlyReplica) wanted = MemberInfo::ReadOnlyReplica;
  std::vector<const MemberInfo*> preferred, serving;
  for (const MemberInfo& m : info.members()) {
    const auto& ep = m.http_end_point();
    if (!m.is_alive() || !Serves(m.state()) || ep.address().empty() || ep.port() < 1 ||
        ep.port() > 65535) {
      continue;
    }
    serving.push_back(&m);
    if (m.state() == wanted) preferred.push_back(&m);
  }
  std::vector<const MemberInfo*>& pool =
      preference == NodePreference::kRandom || preferred.empty() ? serving : preferred;
  if (pool.empty()) return std::nullopt;
  const MemberInfo* m = pool.front();
  if (pool.size() > 1) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    m = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
  }
  return Endpoint{m->http_end_point().address(), static_cast<uint16_t>(m->http_end_point().port())};
}

absl::StatusOr<std::unique_ptr<NodeConnection>> NodeConnection::Create(
    ConnectionSettings settings) {
  if (settings.hosts.empty())
    return absl::InvalidArgumentError("the connection string has no host");
  auto creds = Credentials(settings);
  if (!creds.ok()) return creds.status();
  return std::unique_ptr<NodeConnection>(new NodeConnection(std::move(settings), *creds));
}

NodeConnection::NodeConnection(ConnectionSettings settings,
                               std::shared_ptr<grpc::ChannelCredentials> creds)
    : settings_(std::move(settings)),
      credentials_(std::move(creds)),
      authorization_(settings_.has_credentials()
                         ? absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(
                                                      settings_.username, ":", settings_.password)))
                         : std::string()) {}

std::shared_ptr<grpc::Channel> NodeConnection::MakeChannel(const Endpoint& endpoint) const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kMinReconnectMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinReconnectMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectMs);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  if (settings_.keep_alive_interval_ms > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(settings_.keep_alive_interval_ms));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                static_cast<int>(std::max<int64_t>(settings_.keep_alive_timeout_ms, 1)));
  }
  // Each endpoint its own connection: channels to the same address must not share a subchannel
  // that a failed one is still backing off on.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Always the DNS resolver: a host named like one of gRPC's schemes ("unix", "vsock", ...), as
  // gossip or a not-leader answer may name one, must not become a socket path.
  return grpc::CreateCustomChannel(absl::StrCat("dns:///", endpoint.ToString()), credentials_,
                                   args);
}

absl::StatusOr<event_store::client::gossip::ClusterInfo> NodeConnection::ReadGossip(
    const std::shared_ptr<grpc::Channel>& channel) const {
  auto stub = event_store::client::gossip::Gossip::NewStub(channel);
  grpc::ClientContext context;
  Prepare(&context, /*requires_leader=*/false, /*deadline=*/false);
  context.set_deadline(After(settings_.gossip_timeout_ms));
  ClusterInfo info;
  grpc::Status status = stub->Read(&context, event_store::client::Empty(), &info);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return absl::UnimplementedError("the node does not serve gossip");
    }
    return absl::UnavailableError(absl::StrCat("gossip: ", status.error_message()));
  }
  return info;
}

absl::StatusOr<Endpoint> NodeConnection::Discover() const {
  std::string last_error = "no seed answered";
  for (const Endpoint& seed : settings_.hosts) {
    auto info = ReadGossip(MakeChannel(seed));
    if (!info.ok()) {
      last_error = absl::StrCat(seed.ToString(), ": ", info.status().message());
      continue;
    }
    if (auto picked = PickMember(*info, settings_.node_preference)) return *picked;
    last_error = absl::StrCat(seed.ToString(), ": gossip lists no suitable alive member");
  }
  return absl::UnavailableError(absl::StrCat("discovery failed: ", last_error));
}

absl::StatusOr<NodeConnection::Target> NodeConnection::Current() {
  {
    absl::MutexLock lock(&mu_);
    if (channel_ != nullptr) return Target{channel_, endpoint_, generation_};
    if (!settings_.discover) {
      endpoint_ = settings_.hosts.front();
      channel_ = MakeChannel(endpoint_);
      ++generation_;
      return Target{channel_, endpoint_, generation_};
    }
  }
  // Discovery runs without the lock; concurrent callers may both discover, the first one wins.
  absl::Status last = absl::UnavailableError("discovery failed");
  const int64_t attempts = std::max<int64_t>(settings_.max_discover_attempts, 1);
  for (int64_t attempt = 1; attempt <= attempts; ++attempt) {
    auto found = Discover();
    if (found.ok()) {
      absl::MutexLock lock(&mu_);
      if (channel_ == nullptr) {
        endpoint_ = *found;
        channel_ = MakeChannel(endpoint_);
        ++generation_;
      }
      return Target{channel_, endpoint_, generation_};
    }
    last = found.status();
    if (attempt < attempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(settings_.discovery_interval_ms));
    }
  }
  return last;
}

absl::StatusOr<NodeConnection::Target> NodeConnection::ForLongCall() {
  absl::StatusOr<Target> target = Current();
  if (!target.ok()) return target;
  absl::MutexLock lock(&mu_);
  if (target->generation != generation_) return target;  // moved on meanwhile: its next call
  if (long_calls_generation_ != generation_) {
    // Channels of an earlier node stay with the calls that hold them until those end.
    long_call_channels_.clear();
    long_calls_generation_ = generation_;
  }
  std::shared_ptr<LongCallChannel> slot;
  for (const auto& c : long_call_channels_) {
    if (c->calls < kLongCallsPerChannel) {
      slot = c;
      break;
    }
  }
  if (slot == nullptr) {
    slot = std::make_shared<LongCallChannel>();
    slot->channel = MakeChannel(target->endpoint);
    long_call_channels_.push_back(slot);
  }
  ++slot->calls;
  target->channel = slot->channel;
  target->lease = std::shared_ptr<void>(nullptr, [this, slot](void*) {
    absl::MutexLock release(&mu_);
    --slot->calls;
  });
  return target;
}

void NodeConnection::ReportUnavailable(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (generation != generation_ || channel_ == nullptr) return;
  // A single host keeps its channel, unless a redirect had taken it elsewhere.
  if (!settings_.discover && endpoint_.ToString() == settings_.hosts.front().ToString()) return;
  channel_.reset();
}

void NodeConnection::FollowLeader(const Endpoint& leader, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (generation != generation_) return;
  endpoint_ = leader;
  channel_ = MakeChannel(leader);
  ++generation_;
}

void NodeConnection::Prepare(grpc::ClientContext* context, bool requires_leader,
                             bool deadline) const {
  if (!authorization_.empty()) context->AddMetadata("authorization", authorization_);
  if (!settings_.connection_name.empty()) {
    context->AddMetadata("connection-name", settings_.connection_name);
  }
  if (requires_leader) context->AddMetadata("requires-leader", "true");
  if (deadline && settings_.default_deadline_ms > 0) {
    context->set_deadline(After(settings_.default_deadline_ms));
  }
}

}  // namespace esdb::sidecar
