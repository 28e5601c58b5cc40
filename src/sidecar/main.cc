// esdb-connectors-sidecar: hosts libesdb_connectors.so outside the database. It implements the
// node ABI over the client gRPC protocol against any EventStoreDB/KurrentDB node (or the dev
// node), loads the very same library a node loads, and serves its HTTP routes itself.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "auth/request_auth.h"
#include "auth/stream_access.h"
#include "core/text.h"
#include "hosting/connectors_library.h"
#include "hosting/flags.h"
#include "hosting/log_lines.h"
#include "hosting/process.h"
#include "hosting/security.h"
#include "http/error_body.h"
#include "http/server.h"
#include "nlohmann/json.hpp"
#include "serverfeatures.grpc.pb.h"
#include "sidecar/connection_string.h"
#include "sidecar/grpc_node.h"
#include "sidecar/members.h"
#include "sidecar/node_api.h"
#include "sidecar/node_authenticator.h"
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

// At start-up, in secure mode: is the side-car's own user one the node lets touch the
// connectors' streams? Only a warning: the node decides, and says so on every call.
void CheckOwnUser(esdb::sidecar::NodeAuthenticator& authenticator,
                  const esdb::sidecar::ConnectionSettings& settings) {
  if (!settings.has_credentials()) {
    spdlog::warn(
        "the connection string has no credentials: a secure node refuses the side-car's calls; "
        "give a member of $admins (kurrentdb://user:password@host...)");
    return;
  }
  auto who = authenticator.Check({settings.username, settings.password});
  if (!who.ok()) {
    spdlog::warn("the node did not accept the side-car's own credentials (user '{}'): {}",
                 esdb::EscapeControl(settings.username), std::string(who.status().message()));
  } else if (!esdb::auth::HasRole(*who, esdb::auth::kAdminsGroup)) {
    spdlog::warn(
        "the side-car's user '{}' is not in $admins: a node with KurrentDB's defaults lets only "
        "$admins read and write the connectors' streams",
        esdb::EscapeControl(settings.username));
  }
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  esdb::hosting::LogOneLinePerMessage();
  using esdb::hosting::FlagSpec;
  esdb::hosting::Flags flags(
      kProgram,
      "Hosts the connectors library outside the database: talks to an EventStoreDB/KurrentDB\n"
      "node (or esdb-devnode) over its client gRPC protocol, loads libesdb_connectors.so and\n"
      "serves /connectors*, /connector-plugins, /health/live and /metrics over HTTP.\n"
      "SIGINT/SIGTERM stop it cleanly (final checkpoints first).\n"
      "Secure by default: HTTPS (--tls-cert-file, --tls-key-file), and each caller's HTTP Basic\n"
      "credentials checked with the node (Users.Details, asked with the caller's credentials,\n"
      "over a TLS connection); --insecure serves plain HTTP and lets every caller do everything.",
      {
          {"connection-string", "kurrentdb://127.0.0.1:2113",
           "The node to connect to: esdb|kurrentdb|kurrent|kdb[+discover]://[user:pass@]host"
           "[:port][,host2...][?tls=..&tlsVerifyCert=..&tlsCAFile=..&nodePreference=..&"
           "defaultDeadline=..&keepAliveInterval=..&gossipTimeout=..]"},
          {"bind", "127.0.0.1", "Address the HTTP server listens on"},
          {"http-port", "2115",
           "HTTP port, HTTPS unless --insecure (0: pick a free one and print it)"},
          {"insecure", "",
           "Serve plain HTTP without authentication: every caller may manage connectors. Local "
           "development only; logs a warning. Cannot be combined with the --tls-* flags. (The "
           "connection to the node is set by the connection string, whatever this says.)",
           FlagSpec::Kind::kSwitch},
          {"tls-cert-file", "",
           "PEM certificate (then any intermediates) the HTTPS server presents; required unless "
           "--insecure"},
          {"tls-key-file", "",
           "PEM private key of --tls-cert-file, unencrypted; required unless --insecure"},
          {"tls-ca-file", "",
           "PEM certificate(s) of the CA that issued --tls-cert-file: checked at start-up"},
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
  auto security = esdb::hosting::ReadSecurityFlags(flags);
  if (!security.ok()) return Fail(std::string(security.status().message()));
  if (!security->insecure && !settings->tls) {
    return Fail(
        "a secure side-car checks its callers' passwords with the node, so the connection must "
        "use TLS: drop tls=false from --connection-string (or run the side-car --insecure)");
  }
  esdb::hosting::LogSecurity(*security, kProgram);
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
  esdb::sidecar::NodeAuthenticator authenticator(connection->get());
  if (!security->insecure) CheckOwnUser(authenticator, *settings);
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
  esdb::hosting::SecureServer(
      *security, [&authenticator](const esdb::auth::BasicCredentials& c) {
        return authenticator.Check(c);
      },
      server_options);
  auto server = esdb::http::Server::Start(server_options, [lib](const esdb::http::Request& req) {
    if (esdb::hosting::IsConnectorsPath(req.path)) return lib->Handle(req);
    esdb::http::Response r;
    if (req.path == "/health/live") {
      r.status = 204;
      r.content_type.clear();
    } else if (req.path == "/metrics") {
      // Connector names and states: for authenticated callers, as the connectors themselves.
      if (absl::Status s = esdb::auth::RequireAuthenticated(req.principal); !s.ok()) {
        return esdb::http::AccessErrorResponse(s);
      }
      r.content_type = "text/plain; version=0.0.4";
      r.body = lib->Metrics();
    } else {
      r.status = 404;
      r.body = R"({"error":"not-found","message":"no such route on the side-car"})";
    }
    return r;
  });
  if (!server.ok()) return Fail(std::string(server.status().message()));
  const char* scheme = security->insecure ? "http" : "https";
  spdlog::info("{} ready: {}://{}:{}, node {} (version {}), member {}, host {}", kProgram, scheme,
               flags.Get("bind"), (*server)->port(), redacted, api_options.node_version, member_id,
               host_id);
  esdb::hosting::AnnounceListening(scheme, flags.Get("bind"), (*server)->port());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping connectors (final checkpoints)", sig);
  (*server)->Stop();
  library.reset();
  spdlog::info("{} stopped", kProgram);
  return 0;
}
