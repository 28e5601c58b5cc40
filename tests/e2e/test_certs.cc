#include "test_certs.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "node_process.h"

namespace esdb::e2e {
namespace {

absl::Status Run(const std::vector<std::string>& argv) {
  auto run = RunToExit(argv, absl::Seconds(60));
  if (!run.ok()) return run.status();
  if (!run->status.CleanExit()) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), ": ", run->status.ToString(),
                                            "\n", run->out, run->err));
  }
  return absl::OkStatus();
}

absl::Status Write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace

std::string TestCerts::CaPem() const {
  std::ifstream in(ca_cert, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<TestCerts> MakeTestCerts(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir.string()));
  absl::StatusOr<std::string> openssl = FindProgram("openssl");
  if (!openssl.ok()) return openssl.status();
  TestCerts certs{dir / "ca.crt", dir / "ca.key", dir / "node.crt", dir / "node.key"};
  const std::string csr = (dir / "node.csr").string();
  const std::string extensions = (dir / "node.ext").string();
  // A CA that may sign certificates and nothing else.
  if (absl::Status s = Run({*openssl,
                            "req",
                            "-x509",
                            "-newkey",
                            "ec",
                            "-pkeyopt",
                            "ec_paramgen_curve:P-256",
                            "-nodes",
                            "-keyout",
                            certs.ca_key.string(),
                            "-out",
                            certs.ca_cert.string(),
                            "-days",
                            "3",
                            "-subj",
                            "/CN=esdb-connectors test CA",
                            "-addext",
                            "basicConstraints=critical,CA:TRUE",
                            "-addext",
                            "keyUsage=critical,keyCertSign,cRLSign"});
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          Run({*openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", certs.node_key.string(), "-out", csr, "-subj", "/CN=esdb-devnode"});
      !s.ok()) {
    return s;
  }
  // Clients check the address they dial against the subject alternative names.
  if (absl::Status s = Write(extensions,
                             "basicConstraints=critical,CA:FALSE\n"
                             "keyUsage=critical,digitalSignature,keyEncipherment\n"
                             "extendedKeyUsage=serverAuth,clientAuth\n"
                             "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Run({*openssl, "x509", "-req", "-in", csr, "-CA", certs.ca_cert.string(),
                            "-CAkey", certs.ca_key.string(), "-CAcreateserial", "-days", "3",
                            "-out", certs.node_cert.string(), "-extfile", extensions});
      !s.ok()) {
    return s;
  }
  return certs;
}

absl::StatusOr<std::filesystem::path> MakeUsersFile(const std::filesystem::path& dir,
                                                    const std::vector<TestUser>& users) {
  nlohmann::json list = nlohmann::json::array();
  for (const TestUser& user : users) {
    const std::filesystem::path input = dir / absl::StrCat("password-", user.name);
    if (absl::Status s = Write(input, user.password + "\n"); !s.ok()) return s;
    auto run = RunToExit({DevnodeBinary(), "--hash-password"}, absl::Seconds(60), input);
    std::filesystem::remove(input);
    if (!run.ok()) return run.status();
    if (!run->status.CleanExit()) {
      return absl::InternalError(absl::StrCat("esdb-devnode --hash-password: ", run->err));
    }
    list.push_back({{"name", user.name},
                    {"passwordHash", std::string(absl::StripAsciiWhitespace(run->out))},
                    {"groups", user.groups}});
  }
  const std::filesystem::path path = dir / "users.json";
  if (absl::Status s = Write(path, nlohmann::json{{"users", list}}.dump(2)); !s.ok()) return s;
  return path;
}

}  // namespace esdb::e2e
