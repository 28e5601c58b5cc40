#include "pg_test_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"

namespace esdb::pgtest {
namespace {

std::string PgBin() {
  const char* dir = std::getenv("ESDB_TEST_PG_BINDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/lib/postgresql/15/bin";
}

// Runs a shell command line; true when it exits 0.
bool Run(const std::string& command) { return std::system(command.c_str()) == 0; }

}  // namespace

PgServer::PgServer() {
  std::string pattern = (std::filesystem::temp_directory_path() / "esdb-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = pattern;
  data_ = dir_ + "/data";
  if (geteuid() == 0) {
    as_ = "runuser -u nobody -- ";
    // nobody must own the folder the server writes into, and everyone reach its socket.
    if (!Run("chown nobody " + dir_) || chmod(dir_.c_str(), 0755) != 0) {
      ADD_FAILURE() << "cannot give " << dir_ << " to nobody";
      return;
    }
  }
  ok_ = Run(as_ + PgBin() + "/initdb -D " + data_ +
            " -U esdb -A trust --no-sync -E UTF8 --locale=C >" + dir_ + "/initdb.log 2>&1");
  if (!ok_) ADD_FAILURE() << "initdb failed; see " << dir_ << "/initdb.log";
  if (ok_) ok_ = Start();
  if (!ok_) ADD_FAILURE() << "the server did not start; see " << dir_ << "/server.log";
}

PgServer::~PgServer() {
  if (ok_) Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool PgServer::Start() {
  return Run(as_ + PgBin() + "/pg_ctl -D " + data_ + " -l " + dir_ +
             "/server.log -w -t 60 -o \"-k " + dir_ +
             " -c listen_addresses='' -p 5432 -c fsync=off\" start >/dev/null 2>&1");
}

bool PgServer::Stop() {
  return Run(as_ + PgBin() + "/pg_ctl -D " + data_ + " -m immediate -w stop >/dev/null 2>&1");
}

std::string PgServer::ConnectionString() const {
  return "host=" + dir_ + " port=5432 user=esdb dbname=postgres";
}

Db::Db(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

Db::~Db() { PQfinish(conn_); }

void Db::Exec(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  ExecStatusType s = PQresultStatus(r);
  EXPECT_TRUE(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
      << sql << ": " << PQerrorMessage(conn_);
  PQclear(r);
}

std::vector<std::string> Db::Rows(const std::string& sql) {
  std::vector<std::string> out;
  PGresult* r = PQexec(conn_, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(conn_);
  for (int row = 0; row < PQntuples(r); ++row) {
    std::string line;
    for (int col = 0; col < PQnfields(r); ++col) {
      if (col > 0) line += "|";
      line += PQgetisnull(r, row, col) ? "NULL" : PQgetvalue(r, row, col);
    }
    out.push_back(line);
  }
  PQclear(r);
  return out;
}

std::string Db::One(const std::string& sql) {
  std::vector<std::string> rows = Rows(sql);
  return rows.empty() ? "<no row>" : rows[0];
}

}  // namespace esdb::pgtest
