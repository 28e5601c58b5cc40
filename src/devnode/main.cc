// esdb-devnode: a single-node development database (SQLite log) that loads the connectors
// library exactly as a real node does and serves its management API over HTTP.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "devnode/cluster_view.h"
#include "devnode/grpc_server.h"
#include "devnode/log_node.h"
#include "devnode/streams_http.h"
#include "hosting/connectors_library.h"
#include "hosting/flags.h"
#include "http/server.h"
#include "nlohmann/json.hpp"
#include "secrets/key_ring.h"
#include "spdlog/spdlog.h"

namespace {

std::string ExeDirectory() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  using esdb::hosting::FlagSpec;
  esdb::hosting::Flags flags(
      "esdb-devnode",
      "A single-node EventStoreDB-compatible development database with an SQLite log. It loads\n"
      "libesdb_connectors.so at start-up and serves /connectors*, /connector-plugins, /streams,\n"
      "/health/live, /info and /metrics over HTTP, and the client gRPC protocol (Streams, Gossip,\n"
      "ServerFeatures) for the official clients. SIGINT/SIGTERM stop it cleanly.",
      {
          {"db", "devnode-data/devnode.db", "SQLite log file (created with its folder if missing)"},
          {"bind", "127.0.0.1", "Address the HTTP server listens on"},
          {"http-port", "2114", "HTTP port (0: pick a free one and print it)"},
          {"grpc-port", "2113",
           "Client gRPC port (insecure; 0: pick a free one and print it); official clients "
           "connect with kurrentdb://127.0.0.1:<port>?tls=false"},
          {"connectors-library", ExeDirectory() + "/../lib/libesdb_connectors.so",
           "The connectors library to load; 'none' runs without it"},
          {"plugins-dir", "", "Folder of sink plugins (default: the library's own plugin folder)"},
          {"member-id", "devnode", "This node's member id (the host id connectors report)"},
          {"cluster-view", "",
           "Testing aid: serve the members and roles in this JSON file (re-read when it changes) "
           "instead of a single leader; see docs/operations.md"},
          {"sync", "normal",
           "SQLite durability: 'normal' survives a process crash (SIGKILL), 'full' also power "
           "loss"},
          {"sink-files-root", "",
           "Folder sinks may write files in (paths resolve under it, symbolic links followed; "
           "default: sink-files beside the --db file, created if missing)"},
          {"sink-allowed-hosts", "",
           "Comma-separated destinations sinks may connect to: host names, host:port, CIDR "
           "ranges (default: any; this node's own ports are always refused)"},
          {"secrets-key-file", "",
           "Master key for secret connector settings (64 hex digits, mode 0600; default: "
           "secrets.key beside the --db file, created if missing)"},
          {"secrets-previous-key-file", "",
           "The master key before a rotation: secrets it wrapped are wrapped again by "
           "--secrets-key-file at start-up"},
          {"log-level", "info", "debug, info, warn or error"},
      });
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  auto Fail = [&flags](const std::string& message) { return flags.Fail(message); };
  auto port = flags.GetInt("http-port", 0, 65535);
  if (!port.ok()) return Fail(std::string(port.status().message()));
  auto grpc_port = flags.GetInt("grpc-port", 0, 65535);
  if (!grpc_port.ok()) return Fail(std::string(grpc_port.status().message()));
  const std::string& sync = flags.Get("sync");
  if (sync != "normal" && sync != "full") return Fail("--sync must be 'normal' or 'full'");
  if (auto s = esdb::hosting::SetLogLevel(flags.Get("log-level")); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::filesystem::path db = flags.Get("db");
  std::error_code ec;
  if (db.has_parent_path()) std::filesystem::create_directories(db.parent_path(), ec);
  esdb::devnode::LogNodeOptions options;
  options.member_id = flags.Get("member-id");
  options.sqlite_full_sync = sync == "full";
  auto node = esdb::devnode::LogNode::OpenSqlite(db.string(), options);
  if (!node.ok()) return Fail(std::string(node.status().message()));

  std::unique_ptr<esdb::devnode::ClusterViewFile> cluster_view;
  if (!flags.Get("cluster-view").empty()) {
    auto view = esdb::devnode::ClusterViewFile::Watch(flags.Get("cluster-view"), node->get());
    if (!view.ok()) return Fail(std::string(view.status().message()));
    cluster_view = std::move(*view);
  }

  std::unique_ptr<esdb::hosting::ConnectorsLibrary> library;
  if (flags.Get("connectors-library") != "none") {
    nlohmann::json config = nlohmann::json::object();
    if (!flags.Get("plugins-dir").empty()) config["pluginsDir"] = flags.Get("plugins-dir");
    std::string key_file = flags.Get("secrets-key-file");
    if (key_file.empty()) {
      key_file = (db.parent_path() / "secrets.key").string();
      if (auto s = esdb::secrets::CreateMasterKeyFileIfMissing(key_file); !s.ok()) {
        return Fail(std::string(s.message()));
      }
    }
    config["secretsKeyFile"] = key_file;
    std::filesystem::path files_root = flags.Get("sink-files-root");
    if (files_root.empty()) {
      files_root = db.parent_path() / "sink-files";
      std::filesystem::create_directories(files_root, ec);
    }
    config["sinkFilesRoot"] = files_root.string();
    config["sinkAllowedHosts"] = esdb::hosting::SplitList(flags.Get("sink-allowed-hosts"));
    // Its own ports are never a sink's destination (a port 0 is not known yet: left out).
    config["hostEndpoints"] = nlohmann::json::array();
    for (int64_t p : {*port, *grpc_port}) {
      if (p != 0) config["hostEndpoints"].push_back(absl::StrCat(flags.Get("bind"), ":", p));
    }
    config["secretsPreviousKeyFile"] = flags.Get("secrets-previous-key-file");
    auto lib = esdb::hosting::ConnectorsLibrary::Load(flags.Get("connectors-library"),
                                                      (*node)->api(), config.dump());
    if (!lib.ok()) return Fail(std::string(lib.status().message()));
    library = std::move(*lib);
  }

  esdb::devnode::LogNode* log = node->get();
  esdb::hosting::ConnectorsLibrary* lib = library.get();
  auto metrics = [lib] { return lib ? lib->Metrics() : std::string(); };
  esdb::http::ServerOptions server_options;
  server_options.address = flags.Get("bind");
  server_options.port = static_cast<uint16_t>(*port);
  server_options.authenticate = [](const esdb::http::Request&) {
    return esdb::http::Principal{esdb::http::Principal::Kind::kInsecure};  // no secure mode yet
  };
  auto server = esdb::http::Server::Start(
      server_options, [log, lib, metrics](const esdb::http::Request& req) {
        if (esdb::hosting::IsConnectorsPath(req.path)) {
          if (lib == nullptr) {
            esdb::http::Response r;
            r.status = 503;
            r.body = R"({"error":"unavailable","message":"started without a connectors library"})";
            return r;
          }
          return lib->Handle(req);
        }
        return esdb::devnode::HandleNodeRoute(*log, req, metrics);
      });
  if (!server.ok()) return Fail(std::string(server.status().message()));
  esdb::devnode::GrpcServerOptions grpc_options;
  grpc_options.address = flags.Get("bind");
  grpc_options.port = static_cast<uint16_t>(*grpc_port);
  grpc_options.server_version = esdb::devnode::kDevnodeVersion;
  auto grpc_server = esdb::devnode::GrpcServer::Start(log, grpc_options);
  if (!grpc_server.ok()) return Fail(std::string(grpc_server.status().message()));
  spdlog::info("esdb-devnode {} ready: http://{}:{}, grpc://{}:{} (log {}, connectors library {})",
               esdb::devnode::kDevnodeVersion, flags.Get("bind"), (*server)->port(),
               flags.Get("bind"), (*grpc_server)->port(), db.string(),
               lib ? flags.Get("connectors-library") : "not loaded");
  std::cout << "listening on grpc://" << flags.Get("bind") << ":" << (*grpc_server)->port()
            << std::endl;
  std::cout << "listening on http://" << flags.Get("bind") << ":" << (*server)->port() << std::endl;

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping connectors (final checkpoints), then the node", sig);
  (*server)->Stop();
  (*grpc_server)->Stop();
  library.reset();
  (*node)->Shutdown();
  spdlog::info("esdb-devnode stopped");
  return 0;
}
