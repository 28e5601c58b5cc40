// esdb-connectors-sidecar: hosts libesdb_connectors.so outside the database. It implements the
// node ABI over the client gRPC protocol against any EventStoreDB/KurrentDB node (or the dev
// node), loads the very same library a node loads, and serves its HTTP routes itself.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/text.h"
#include "hosting/connectors_library.h"
#include "hosting/flags.h"
#include "http/server.h"
#include "nlohmann/json.hpp"
#include "serverfeatures.grpc.pb.h"
#include "sidecar/connection_string.h"
#include "sidecar/grpc_node.h"
#include "sidecar/members.h"
#include "sidecar/node_api.h"
#include "sidecar/node_connection.h"
#include "spdlog/spdlog.h"

namespace {

constexpr char kProgram[] = "esdb-connectors-sidecar";

std::string ExeDirectory() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}

// Waits up to `ms` for SIGINT/SIGTERM (blocked in every thread). True when one arrived.
bool SignalWithin(const sigset_t& signals, int64_t ms) {
  timespec t{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
  return sigtimedwait(&signals, nullptr, &t) > 0;
}

spdlog::level::level_enum SpdLevel(int32_t level) {
  switch (level) {
    case ESDB_LOG_DEBUG:
      return spdlog::level::debug;
    case ESDB_LOG_WARN:
      return spdlog::level::warn;
    case ESDB_LOG_ERROR:
      return spdlog::level::err;
    default:
      return spdlog::level::info;
  }
}

// The node's version from ServerFeatures, or "" when it does not say.
std::string ServerVersion(esdb::sidecar::NodeConnection& connection) {
  auto target = connection.Current();
  if (!target.ok()) return "";
  auto stub = event_store::client::server_features::ServerFeatures::NewStub(target->channel);
  grpc::ClientContext context;
  connection.Prepare(&context, false, true);
  event_store::client::server_features::SupportedMethods methods;
  if (!stub->GetSupportedMethods(&context, {}, &methods).ok()) return "";
  return methods.event_store_server_version();
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::Flags flags(
      kProgram,
      "Hosts the connectors library outside the database: talks to an EventStoreDB/KurrentDB\n"
      "node (or esdb-devnode) over its client gRPC protocol, loads libesdb_connectors.so and\n"
      "serves /connectors*, /connector-plugins, /health/live and /metrics over HTTP.\n"
      "SIGINT/SIGTERM stop it cleanly (final checkpoints first).",
      {
          {"connection-string", "kurrentdb://127.0.0.1:2113?tls=false",
           "The node to connect to: esdb|kurrentdb|kurrent|kdb[+discover]://[user:pass@]host"
           "[:port][,host2...][?tls=..&tlsVerifyCert=..&tlsCAFile=..&nodePreference=..&"
           "defaultDeadline=..&keepAliveInterval=..&gossipTimeout=..]"},
          {"bind", "127.0.0.1", "Address the HTTP server listens on"},
          {"http-port", "2115", "HTTP port (0: pick a free one and print it)"},
          {"connectors-library", ExeDirectory() + "/../lib/libesdb_connectors.so",
           "The connectors library to load"},
          {"plugins-dir", "", "Folder of sink plugins (default: the library's own plugin folder)"},
          {"sink-files-root", "",
           "Folder sinks may write files in (paths resolve under it, symbolic links followed); "
           "without it, no sink may name a file"},
          {"sink-allowed-hosts", "",
           "Comma-separated destinations sinks may connect to: host names, host:port, CIDR "
           "ranges (default: any; this side-car's own port is always refused)"},
          {"secrets-key-file", "",
           "Master key for secret connector settings (64 hex digits, mode 0600); without it, "
           "connectors with secrets can be neither created nor started"},
          {"secrets-previous-key-file", "",
           "The master key before a rotation: secrets it wrapped are wrapped again by "
           "--secrets-key-file at start-up"},
          {"member-id", "",
           "The cluster member this side-car stands for (default: the member gossip reports for "
           "the node it connects to, else that node's host:port)"},
          {"host-id", "", "This host's id in connector leases (default: the member id)"},
          {"log-level", "info", "debug, info, warn or error"},
      });
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  auto Fail = [&flags](const std::string& message) { return flags.Fail(message); };
  auto port = flags.GetInt("http-port", 0, 65535);
  if (!port.ok()) return Fail(std::string(port.status().message()));
  if (auto s = esdb::hosting::SetLogLevel(flags.Get("log-level")); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  auto settings = esdb::sidecar::ParseConnectionString(flags.Get("connection-string"));
  if (!settings.ok()) {
    std::cerr << kProgram << ": --connection-string: " << settings.status().message() << "\n";
    return 2;
  }
  const std::string redacted = esdb::sidecar::Redacted(*settings);
  auto connection = esdb::sidecar::NodeConnection::Create(*settings);
  if (!connection.ok()) return Fail(std::string(connection.status().message()));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Wait for the node: the member id defaults to what its gossip says, and the library reads
  // its connectors at start-up.
  std::string member_id = flags.Get("member-id");
  for (bool first = true;; first = false) {
    auto target = (*connection)->Current();
    if (target.ok()) {
      auto info = (*connection)->ReadGossip(target->channel);
      if (info.ok() || absl::IsUnimplemented(info.status())) {
        if (member_id.empty()) {
          member_id = info.ok() ? esdb::sidecar::DefaultMemberId(*info, target->endpoint)
                                : target->endpoint.ToString();
        }
        break;
      }
      (*connection)->ReportUnavailable(target->generation);
      if (first)
        spdlog::warn("waiting for the node at {}: {}", redacted,
                     std::string(info.status().message()));
    } else if (first) {
      spdlog::warn("waiting for the node at {}: {}", redacted,
                   std::string(target.status().message()));
    }
    if (SignalWithin(signals, 1000)) return 0;
  }
  const std::string host_id = flags.Get("host-id").empty() ? member_id : flags.Get("host-id");
  const std::string node_version = ServerVersion(**connection);

  esdb::sidecar::GrpcNode node(connection->get(), member_id);
  esdb::sidecar::NodeApiOptions api_options;
  api_options.node_version = node_version.empty() ? "0.0.0" : node_version;
  api_options.log = [](int32_t level, const std::string& message) {
    spdlog::log(SpdLevel(level), "{}", esdb::EscapeControl(message));  // one message, one line
  };
  esdb::sidecar::SidecarNodeApi api(&node, api_options);

  nlohmann::json config = {
      {"logLevel", flags.Get("log-level")}, {"memberId", member_id}, {"hostId", host_id}};
  if (!flags.Get("plugins-dir").empty()) config["pluginsDir"] = flags.Get("plugins-dir");
  config["secretsKeyFile"] = flags.Get("secrets-key-file");
  config["sinkFilesRoot"] = flags.Get("sink-files-root");
  config["sinkAllowedHosts"] = esdb::hosting::SplitList(flags.Get("sink-allowed-hosts"));
  if (*port != 0) config["hostEndpoints"] = {absl::StrCat(flags.Get("bind"), ":", *port)};
  config["secretsPreviousKeyFile"] = flags.Get("secrets-previous-key-file");
  std::unique_ptr<esdb::hosting::ConnectorsLibrary> library;
  while (true) {
    auto lib = esdb::hosting::ConnectorsLibrary::Load(flags.Get("connectors-library"), api.api(),
                                                      config.dump());
    if (lib.ok()) {
      library = *std::move(lib);
      break;
    }
    // A node that went away during start-up is waited for; anything else is fatal.
    esdb_position last;
    if (node.LastPosition(&last).status != ESDB_NODE_UNAVAILABLE) {
      return Fail(std::string(lib.status().message()));
    }
    spdlog::warn("the connectors library could not start while the node is away ({}); retrying",
                 std::string(lib.status().message()));
    if (SignalWithin(signals, 1000)) return 0;
  }

  esdb::hosting::ConnectorsLibrary* lib = library.get();
  esdb::http::ServerOptions server_options;
  server_options.address = flags.Get("bind");
  server_options.port = static_cast<uint16_t>(*port);
  server_options.authenticate = [](const esdb::http::Request&) {
    return esdb::http::Principal{esdb::http::Principal::Kind::kInsecure};  // no secure mode yet
  };
  auto server = esdb::http::Server::Start(server_options, [lib](const esdb::http::Request& req) {
    if (esdb::hosting::IsConnectorsPath(req.path)) return lib->Handle(req);
    esdb::http::Response r;
    if (req.path == "/health/live") {
      r.status = 204;
      r.content_type.clear();
    } else if (req.path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = lib->Metrics();
    } else {
      r.status = 404;
      r.body = R"({"error":"not-found","message":"no such route on the side-car"})";
    }
    return r;
  });
  if (!server.ok()) return Fail(std::string(server.status().message()));
  spdlog::info("{} ready: http://{}:{}, node {} (version {}), member {}, host {}", kProgram,
               flags.Get("bind"), (*server)->port(), redacted, api_options.node_version, member_id,
               host_id);
  std::cout << "listening on http://" << flags.Get("bind") << ":" << (*server)->port() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping connectors (final checkpoints)", sig);
  (*server)->Stop();
  library.reset();
  spdlog::info("{} stopped", kProgram);
  return 0;
}
