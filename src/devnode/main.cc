// esdb-devnode: a single-node development database (SQLite log) that loads the connectors
// library exactly as a real node does and serves its management API over HTTP.
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "auth/password_hash.h"
#include "auth/request_auth.h"
#include "auth/user_store.h"
#include "devnode/cluster_view.h"
#include "devnode/grpc_server.h"
#include "devnode/log_node.h"
#include "devnode/streams_http.h"
#include "hosting/connectors_library.h"
#include "hosting/flags.h"
#include "hosting/log_lines.h"
#include "hosting/process.h"
#include "hosting/security.h"
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

// --hash-password: one line from standard input (not echoed when it is a terminal), its hash
// on standard output. The password never appears on a command line, where `ps` would show it.
int HashPassword() {
  const bool terminal = isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal && tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::cerr << "password: " << std::flush;
  }
  std::string password;
  std::getline(std::cin, password);
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << std::endl;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  auto hash = esdb::auth::PasswordHash::Create(password);
  if (!hash.ok()) {
    std::cerr << "esdb-devnode: --hash-password: " << hash.status().message() << "\n";
    return 1;
  }
  std::cout << hash->Encode() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  esdb::hosting::ConfigureHostProcess();
  esdb::hosting::LogOneLinePerMessage();
  using esdb::hosting::FlagSpec;
  esdb::hosting::Flags flags(
      "esdb-devnode",
      "A single-node EventStoreDB-compatible development database with an SQLite log. It loads\n"
      "libesdb_connectors.so at start-up and serves /connectors*, /connector-plugins, /streams,\n"
      "/health/live, /info and /metrics over HTTP, and the client gRPC protocol (Streams, Gossip,\n"
      "ServerFeatures, Users.Details) for the official clients. SIGINT/SIGTERM stop it cleanly.\n"
      "Secure by default, as KurrentDB: HTTPS and gRPC over TLS with the certificate given by the\n"
      "TLS flags below, callers authenticated with HTTP Basic against the node's users (admin and\n"
      "ops, password changeit, unless a users file replaces them). The insecure switch turns all\n"
      "of that off.",
      {
          {"db", "devnode-data/devnode.db", "SQLite log file (created with its folder if missing)"},
          {"bind", "127.0.0.1", "Address the HTTP and gRPC servers listen on"},
          {"http-port", "2114",
           "HTTP port, HTTPS unless --insecure (0: pick a free one and print it)"},
          {"grpc-port", "2113",
           "Client gRPC port, TLS unless --insecure (0: pick a free one and print it); official "
           "clients connect with kurrentdb://admin:changeit@127.0.0.1:<port>?tlsCAFile=<CA file> "
           "(with --insecure: kurrentdb://127.0.0.1:<port>?tls=false)"},
          {"insecure", "",
           "Run without TLS and without authentication: plain HTTP and gRPC, every caller may "
           "read and write every stream and manage connectors. Local development only; logs a "
           "warning. Cannot be combined with the --tls-* flags or --users-file",
           FlagSpec::Kind::kSwitch},
          {"tls-cert-file", "",
           "PEM certificate of this node (then any intermediates) for HTTPS and gRPC; required "
           "unless --insecure"},
          {"tls-key-file", "",
           "PEM private key of --tls-cert-file, unencrypted; required unless "
           "--insecure"},
          {"tls-ca-file", "",
           "PEM certificate(s) of the CA that issued --tls-cert-file: the node checks its "
           "certificate against it at start-up and refuses to start if it does not verify"},
          {"users-file", "",
           "JSON file of users ({\"users\": [{\"name\", \"passwordHash\", \"groups\", ...}]}) "
           "that replaces the default users admin ($admins) and ops ($ops), both with password "
           "changeit; see docs/operations.md"},
          {"hash-password", "",
           "Read a password from standard input, print its hash for --users-file "
           "(pbkdf2-sha256) and exit",
           FlagSpec::Kind::kSwitch},
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
  auto hash_password = flags.GetBool("hash-password");
  if (!hash_password.ok()) return Fail(std::string(hash_password.status().message()));
  if (*hash_password) return HashPassword();
  auto port = flags.GetInt("http-port", 0, 65535);
  if (!port.ok()) return Fail(std::string(port.status().message()));
  auto grpc_port = flags.GetInt("grpc-port", 0, 65535);
  if (!grpc_port.ok()) return Fail(std::string(grpc_port.status().message()));
  const std::string& sync = flags.Get("sync");
  if (sync != "normal" && sync != "full") return Fail("--sync must be 'normal' or 'full'");
  if (auto s = esdb::hosting::SetLogLevel(flags.Get("log-level")); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  auto security = esdb::hosting::ReadSecurityFlags(flags);
  if (!security.ok()) return Fail(std::string(security.status().message()));
  std::unique_ptr<esdb::auth::UserStore> users;
  if (security->insecure) {
    if (!flags.Get("users-file").empty()) {
      return Fail(
          "--users-file needs a secure node: --insecure has no users, everyone may "
          "do everything");
    }
  } else {
    auto loaded = flags.Get("users-file").empty()
                      ? esdb::auth::UserStore::Defaults()
                      : esdb::auth::UserStore::FromFile(flags.Get("users-file"));
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    users = *std::move(loaded);
  }
  esdb::hosting::LogSecurity(*security, "esdb-devnode");
  if (users != nullptr) {
    std::vector<std::string> names;
    for (const esdb::auth::User& u : users->users()) names.push_back(u.name);
    if (flags.Get("users-file").empty()) {
      spdlog::warn(
          "users admin ($admins) and ops ($ops) have the well-known password '{}': "
          "give --users-file for anything but local development",
          esdb::auth::kDefaultPassword);
    } else {
      spdlog::info("users from {}: {}", flags.Get("users-file"), absl::StrJoin(names, ", "));
    }
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
  esdb::auth::UserStore* user_store = users.get();
  esdb::hosting::SecureServer(
      *security, [user_store](const esdb::auth::BasicCredentials& c) {
        return user_store->Authenticate(c);
      },
      server_options);
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
        if (auto refused = esdb::devnode::RefuseNodeRoute(req)) return *refused;
        return esdb::devnode::HandleNodeRoute(*log, req, metrics);
      });
  if (!server.ok()) return Fail(std::string(server.status().message()));
  esdb::devnode::GrpcServerOptions grpc_options;
  grpc_options.address = flags.Get("bind");
  grpc_options.port = static_cast<uint16_t>(*grpc_port);
  grpc_options.server_version = esdb::devnode::kDevnodeVersion;
  if (!security->insecure) {
    grpc_options.tls = esdb::devnode::GrpcServerOptions::Tls{
        security->tls.certificate_chain_pem, security->tls.private_key_pem, security->tls.ca_pem};
    grpc_options.users = user_store;
  }
  auto grpc_server = esdb::devnode::GrpcServer::Start(log, grpc_options);
  if (!grpc_server.ok()) return Fail(std::string(grpc_server.status().message()));
  // "grpcs" and "https" say TLS; test helpers and scripts read these two lines.
  const char* http_scheme = security->insecure ? "http" : "https";
  const char* grpc_scheme = security->insecure ? "grpc" : "grpcs";
  spdlog::info("esdb-devnode {} ready: {}://{}:{}, {}://{}:{} (log {}, connectors library {})",
               esdb::devnode::kDevnodeVersion, http_scheme, flags.Get("bind"), (*server)->port(),
               grpc_scheme, flags.Get("bind"), (*grpc_server)->port(), db.string(),
               lib ? flags.Get("connectors-library") : "not loaded");
  esdb::hosting::AnnounceListening(grpc_scheme, flags.Get("bind"), (*grpc_server)->port());
  esdb::hosting::AnnounceListening(http_scheme, flags.Get("bind"), (*server)->port());

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
