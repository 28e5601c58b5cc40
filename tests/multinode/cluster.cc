#include "cluster.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "node_grpc.h"
#include "node_process.h"

namespace esdb::multinode {
namespace {

using e2e::BinaryPath;
using e2e::ChildOptions;
using e2e::ChildProcess;

// One of the cluster's programs, run in `work_dir`, its output in <dir>/<name>-<run>.log.
std::unique_ptr<ChildProcess> MakeProcess(std::string name, std::vector<std::string> argv,
                                          const std::filesystem::path& dir,
                                          std::filesystem::path work_dir) {
  return std::make_unique<ChildProcess>(
      ChildOptions{.name = std::move(name),
                   .argv = [argv = std::move(argv)] { return argv; },
                   .log_dir = dir,
                   .work_dir = std::move(work_dir),
                   .ready_timeout = absl::Seconds(30),
                   .stop_timeout = absl::Seconds(30)});
}

constexpr char kSidecar[] = "esdb-connectors-sidecar";

// True when the side-car binary accepts --lease-ms (asked once, from --help).
bool SidecarHasLeaseFlag() {
  static const bool has = [] {
    auto help = e2e::RunToExit({BinaryPath(kSidecar), "--help"}, absl::Seconds(30));
    return help.ok() && absl::StrContains(help->out + help->err, "--lease-ms");
  }();
  return has;
}

}  // namespace

std::string Cluster::HostId(size_t i) { return absl::StrCat("sc", i + 1); }

std::string Cluster::Endpoint(size_t i) const {
  return absl::StrCat("127.0.0.", i + 1, ":", grpc_port_);
}

std::string Cluster::grpc_target() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

std::filesystem::path Cluster::OutputOf(size_t i, const std::string& connector) const {
  return sidecars_.at(i)->options().work_dir / OutputName(connector);
}

absl::Status Cluster::WriteView(const std::vector<std::string>& roles) {
  nlohmann::json members = nlohmann::json::array();
  for (size_t i = 0; i < roles.size(); ++i) {
    members.push_back({{"id", absl::StrCat("m", i + 1)},
                       {"role", roles[i]},
                       {"alive", true},
                       {"httpEndpoint", Endpoint(i)}});
  }
  // Written aside and renamed, so the node never reads half a file.
  const std::filesystem::path view = options_.dir / "cluster-view.json";
  const std::filesystem::path tmp = options_.dir / "cluster-view.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << nlohmann::json{{"members", members}}.dump(2) << "\n";
    if (!out) return absl::InternalError("cannot write " + tmp.string());
  }
  if (std::rename(tmp.c_str(), view.c_str()) != 0) {
    return absl::InternalError("cannot rename " + tmp.string());
  }
  return absl::OkStatus();
}

absl::Status Cluster::SetRoles(const std::vector<std::string>& roles) {
  if (roles.size() != sidecars_.size()) {
    return absl::InvalidArgumentError("one role per member, please");
  }
  if (auto s = ApplyView(roles); !s.ok()) return s;
  roles_ = roles;
  return absl::OkStatus();
}

absl::Status Cluster::ApplyView(const std::vector<std::string>& roles) {
  if (auto s = WriteView(roles); !s.ok()) return s;
  std::string last;
  bool applied = e2e::WaitUntil(
      [&] {
        auto gossip = ReadGossip(grpc_target());
        if (!gossip.ok()) {
          last = gossip.status().ToString();
          return false;
        }
        for (size_t i = 0; i < roles.size(); ++i) {
          auto m = gossip->find(Endpoint(i));
          if (m == gossip->end() || m->second.role != roles[i]) {
            last = absl::StrCat("member ", Endpoint(i), " not yet ", roles[i]);
            return false;
          }
        }
        return true;
      },
      absl::Seconds(10), absl::Milliseconds(20));
  if (!applied) return absl::DeadlineExceededError("the node did not apply the view: " + last);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(ClusterOptions options) {
  std::unique_ptr<Cluster> c(new Cluster(std::move(options)));
  std::error_code ec;
  std::filesystem::remove_all(c->options_.dir, ec);
  std::filesystem::create_directories(c->options_.dir, ec);
  if (ec) return absl::InternalError("cannot create " + c->options_.dir.string());

  // The view names the gRPC port, which the node picks (a port picked here and closed again
  // could be taken by a parallel test first): it starts with a view naming port 0, which is
  // written again once the port is known.
  c->roles_ = c->options_.roles;
  if (auto s = c->WriteView(c->roles_); !s.ok()) return s;

  const std::filesystem::path& dir = c->options_.dir;
  c->node_ = MakeProcess(
      "esdb-devnode",
      {BinaryPath("esdb-devnode"), "--db", (dir / "node" / "devnode.db").string(),
       // Every address, so that each side-car can reach it under its member's own address.
       "--bind", "0.0.0.0", "--http-port", "0", "--grpc-port", "0",
       "--connectors-library", "none", "--cluster-view", (dir / "cluster-view.json").string(),
       "--log-level", "info", "--insecure"},
      dir, dir / "node");
  if (auto s = c->node_->Start(); !s.ok()) return s;
  c->node_http_ = std::make_unique<e2e::NodeHttp>(c->node_->http_port());
  c->grpc_port_ = c->node_->grpc_port();
  if (auto s = c->ApplyView(c->roles_); !s.ok()) return s;

  auto gossip = ReadGossip(c->grpc_target());
  if (!gossip.ok()) return gossip.status();

  std::vector<std::string> lease_flag;
  if (SidecarHasLeaseFlag()) {
    lease_flag = {"--lease-ms", std::to_string(c->options_.lease_ms)};
    c->lease_ = absl::Milliseconds(c->options_.lease_ms);
  }
  for (size_t i = 0; i < c->roles_.size(); ++i) {
    auto member = gossip->find(c->Endpoint(i));
    if (member == gossip->end()) {
      return absl::InternalError(absl::StrCat("gossip does not list ", c->Endpoint(i)));
    }
    std::vector<std::string> argv = {BinaryPath(kSidecar),
                                     "--connection-string",
                                     absl::StrCat("kurrentdb://", c->Endpoint(i), "?tls=false"),
                                     "--bind",
                                     "127.0.0.1",
                                     "--http-port",
                                     "0",
                                     "--connectors-library",
                                     e2e::ConnectorsLibraryPath(),
                                     "--plugins-dir",
                                     e2e::PluginDir(),
                                     "--member-id",
                                     member->second.instance_id,
                                     "--host-id",
                                     HostId(i),
                                     "--sink-files-root",
                                     (dir / HostId(i)).string(),
                                     "--log-level",
                                     "info",
                                     "--insecure"};
    argv.insert(argv.end(), lease_flag.begin(), lease_flag.end());
    c->sidecars_.push_back(MakeProcess(HostId(i), std::move(argv), dir, dir / HostId(i)));
    if (auto s = c->sidecars_.back()->Start(); !s.ok()) return s;
    c->sidecar_http_.push_back(std::make_unique<e2e::NodeHttp>(c->sidecars_.back()->http_port()));
  }
  return c;
}

Cluster::~Cluster() {
  for (auto& s : sidecars_) {
    if (s->running()) (void)s->Kill();
  }
  if (node_ && node_->running()) (void)node_->Kill();
}

std::string Cluster::Logs() const {
  std::string out;
  auto tail = [](const std::string& log) {
    constexpr size_t kTail = 4000;
    return log.size() > kTail ? "..." + log.substr(log.size() - kTail) : log;
  };
  if (node_) absl::StrAppend(&out, tail(node_->Logs()));
  for (size_t i = 0; i < sidecars_.size(); ++i) absl::StrAppend(&out, tail(sidecars_[i]->Logs()));
  return out;
}

}  // namespace esdb::multinode
