// A throw-away certificate authority and a node certificate signed by it, made with the openssl
// command at test time in the test's scratch folder, for secure-mode tests: nothing secret is
// kept in the repository, and every run has its own keys.
#ifndef ESDB_TESTS_E2E_TEST_CERTS_H_
#define ESDB_TESTS_E2E_TEST_CERTS_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace esdb::e2e {

struct TestCerts {
  std::filesystem::path ca_cert;  // PEM; what clients trust (tlsCAFile, --cacert)
  std::filesystem::path ca_key;
  std::filesystem::path node_cert;  // for 127.0.0.1 and localhost, signed by the CA
  std::filesystem::path node_key;

  std::string CaPem() const;  // ca_cert's text ("" if unreadable)
};

// Makes ca.crt/ca.key and node.crt/node.key (ECDSA P-256, valid for a few days) in `dir`, which
// is created if missing. Errors carry openssl's own output.
absl::StatusOr<TestCerts> MakeTestCerts(const std::filesystem::path& dir);

// Writes a users file for esdb-devnode --users-file in `dir` with these users (name, password,
// groups), the hashes made by `esdb-devnode --hash-password` itself. Returns its path.
struct TestUser {
  std::string name;
  std::string password;
  std::vector<std::string> groups;
};
absl::StatusOr<std::filesystem::path> MakeUsersFile(const std::filesystem::path& dir,
                                                    const std::vector<TestUser>& users);

}  // namespace esdb::e2e

#endif  // ESDB_TESTS_E2E_TEST_CERTS_H_
