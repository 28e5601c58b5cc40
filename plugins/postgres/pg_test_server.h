// Test-only: a throwaway PostgreSQL cluster and a plain libpq session for tests of postgres-sink
// (its unit tests and the end-to-end test through the dev node).
//
// initdb and postgres refuse to run as root. When the test runs as root, the cluster's folder is
// given to `nobody` and initdb / pg_ctl run as that user through runuser; otherwise they run as
// the current user. The server listens only on a Unix socket in that folder (no TCP port).
#ifndef ESDB_PLUGINS_POSTGRES_PG_TEST_SERVER_H_
#define ESDB_PLUGINS_POSTGRES_PG_TEST_SERVER_H_

#include <libpq-fe.h>

#include <string>
#include <vector>

namespace esdb::pgtest {

// initdb into a fresh temporary folder and start with pg_ctl -w (which returns once the server
// accepts connections); the destructor stops it and removes the folder. Server binaries: Debian's
// PostgreSQL 15 unless ESDB_TEST_PG_BINDIR names others.
class PgServer {
 public:
  PgServer();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  bool ok() const { return ok_; }
  bool Start();
  // Immediate: no shutdown checkpoint, like a crash of the server (recovery at next start).
  bool Stop();
  // host=<socket folder> port=5432 user=esdb dbname=postgres
  std::string ConnectionString() const;
  const std::string& socket_dir() const { return dir_; }

 private:
  std::string dir_, as_, data_;
  bool ok_ = false;
};

// A plain libpq session; failures are GoogleTest failures.
class Db {
 public:
  explicit Db(const std::string& conninfo);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql);
  // Every row of `sql`, each as its columns' text joined by '|' (NULL as "NULL").
  std::vector<std::string> Rows(const std::string& sql);
  // The first row, or "<no row>".
  std::string One(const std::string& sql);

 private:
  PGconn* conn_;
};

}  // namespace esdb::pgtest

#endif  // ESDB_PLUGINS_POSTGRES_PG_TEST_SERVER_H_
