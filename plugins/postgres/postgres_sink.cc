// postgres-sink: events into PostgreSQL through libpq, effectively once.
//
// Each write() is one transaction on one connection: it locks this connector's row of
// <schema>.esdb_sink_positions (SELECT ... FOR UPDATE), skips the records at or below the
// position stored there (already applied by an earlier transaction whose acknowledgement was
// lost to a crash), applies the rest (append: one binary COPY; statements: the user's prepared
// statement per record, pipelined), stores the last record's position and commits. The rows and the
// position commit together or not at all, so a record is applied once however often the host
// resends it. Reading the position under the row lock, not once at open, keeps this true when
// an old instance of the connector (fenced, still running) and a new one overlap.
//
// Errors: connection failures, serialisation failures, deadlocks, lack of resources and server
// shutdowns are RETRY (the host resends the same batch; the next write reconnects). Constraint
// violations (class 23) and bad data (class 22) are FATAL naming the record. At open, a bad
// statement, a missing table or column, or missing privileges (class 42) are INVALID_CONFIG with
// the server's message.
//
// write() completes synchronously. libpq calls block; the connection gets TCP keepalives and a
// TCP user timeout (unless the connection string sets its own) so that a dead server ends a
// write with RETRY instead of stalling the connector.
#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "common/cxx_boundary.h"
#include "core/json_depth.h"
#include "esdb/sink.h"
#include "nlohmann/json.hpp"
#include "postgres_config.h"

namespace esdb_postgres_sink {
namespace {

using esdb_plugin::CopyError;

constexpr size_t kMaxJsonDepth = 64;
// Statements sent before their results are read (statements mode).
constexpr size_t kPipelineDepth = 100;
constexpr int kAppendColumns = 12;
// The most COPY data handed to libpq in one call.
constexpr size_t kCopyChunk = 1 << 20;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Connection = std::unique_ptr<PGconn, ConnDeleter>;

// A failed call: the status it maps to and the text for the host.
struct Failure {
  esdb_sink_status status = ESDB_SINK_OK;
  std::string message;
  // Append mode: the server refused the COPY for its data (FATAL), which names no record.
  bool copy_refused = false;
  bool failed() const { return status != ESDB_SINK_OK; }
};

enum class Phase { kOpen, kWrite };

// SQLSTATE -> what the host should do. Classes: 08 connection, 40 transaction rollback
// (serialisation failure, deadlock), 53 insufficient resources, 57 operator intervention
// (shutdown, query cancelled by a timeout), 55 lock not available (lock_timeout), 58 system
// error: may pass. 23 integrity constraint,
// 22 data exception: the record cannot be applied. 42 syntax or access rule: the configuration.
esdb_sink_status Classify(std::string_view sqlstate, Phase phase) {
  std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate.empty() || cls == "08" || cls == "40" || cls == "53" || cls == "55" || cls == "57" ||
      cls == "58" || cls == "XX") {
    return ESDB_SINK_RETRY;
  }
  if (phase == Phase::kOpen) {
    // Two connectors creating the same table at once collide in the catalogue.
    if (sqlstate == "23505" || sqlstate == "42P07") return ESDB_SINK_RETRY;
    if (cls == "42" || cls == "3F" || cls == "28") return ESDB_SINK_INVALID_CONFIG;
  }
  return ESDB_SINK_FATAL;
}

std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text;
}

// The failure described by `result` (which may be NULL when libpq could not even send).
Failure FailureOf(PGconn* conn, const PGresult* result, Phase phase, const std::string& context) {
  Failure f;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  f.status = PQstatus(conn) == CONNECTION_BAD ? ESDB_SINK_RETRY : Classify(sqlstate, phase);
  // The primary message and its detail, not the whole report: its context may quote values.
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  f.message = context + ": " + OneLine(primary != nullptr ? primary : PQerrorMessage(conn));
  if (result != nullptr) {
    if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
      f.message += " (" + OneLine(detail) + ")";
    }
  }
  if (!sqlstate.empty()) f.message += " [SQLSTATE " + sqlstate + "]";
  return f;
}

bool Succeeded(const PGresult* r) {
  if (r == nullptr) return false;
  ExecStatusType s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

bool IsJson(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  if (text.empty() || !esdb::JsonDepthWithin(text, kMaxJsonDepth)) return false;
  // jsonb cannot hold \u0000; such documents go to the bytes column.
  if (text.find("\\u0000") != std::string_view::npos) return false;
  return nlohmann::json::accept(text);
}

std::string Text(const char* s) { return s != nullptr ? s : ""; }

// "record at position P (stream S, revision R, type T)", for messages about one record.
std::string RecordName(const esdb_sink_record& r) {
  return "record at position " + std::to_string(r.commit_position) + " (stream " + Text(r.stream) +
         ", revision " + std::to_string(r.revision) + ", type " + Text(r.event_type) + ")";
}

// The rows of append mode in COPY's binary format: a fixed header, then per row the column
// count and each value as a 32-bit length (-1 for NULL) and its bytes in the type's binary
// form, then a trailer. Nothing is escaped, and the server parses no numbers or dates.
class CopyWriter {
 public:
  CopyWriter() {
    static const char kSignature[] = "PGCOPY\n\377\r\n";  // and its NUL: 11 bytes
    out_.append(kSignature, sizeof(kSignature));
    Int32(0);  // flags: no OIDs
    Int32(0);  // no header extension
  }

  // Appends the row of `r`; false, with the reason in `why`, for a record that has no row.
  bool Add(const esdb_sink_record& r, std::string& why) {
    uint8_t uuid[16];
    if (!ParseUuid(Text(r.event_id), uuid)) {
      why = "the event id \"" + Text(r.event_id) + "\" is not a UUID";
      return false;
    }
    if (r.data_size > kMaxField || r.metadata_size > kMaxField) {
      why = "data or metadata larger than PostgreSQL's 1 GB field";
      return false;
    }
    Int16(kAppendColumns);
    Int64Field(static_cast<int64_t>(r.commit_position));
    Int64Field(static_cast<int64_t>(r.prepare_position));
    TextField(r.stream);
    Int64Field(static_cast<int64_t>(r.revision));
    Field(uuid, sizeof(uuid));
    TextField(r.event_type);
    TextField(r.content_type);
    // data: jsonb when it is JSON, else the bytes (empty bytes for empty data).
    if (Text(r.content_type) == "application/json" && IsJson(r.data, r.data_size)) {
      JsonbField(r.data, r.data_size);
      Null();
    } else {
      Null();
      Field(r.data, r.data_size);
    }
    // metadata: NULL when empty.
    if (r.metadata_size > 0 && IsJson(r.metadata, r.metadata_size)) {
      JsonbField(r.metadata, r.metadata_size);
      Null();
    } else {
      Null();
      if (r.metadata_size > 0) {
        Field(r.metadata, r.metadata_size);
      } else {
        Null();
      }
    }
    Int64Field(r.created_unix_us - kPostgresEpochUnixUs);
    return true;
  }

  void Finish() { Int16(-1); }
  const std::string& bytes() const { return out_; }

 private:
  static constexpr size_t kMaxField = 0x3fffffff;
  // PostgreSQL's timestamps count microseconds from 2000-01-01 00:00 UTC.
  static constexpr int64_t kPostgresEpochUnixUs = 946684800LL * 1000000;

  static bool ParseUuid(const std::string& text, uint8_t out[16]) {
    size_t digits = 0;
    for (char c : text) {
      if (c == '-') continue;
      int v = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (v < 0 || digits == 32) return false;
      if (digits % 2 == 0) {
        out[digits / 2] = static_cast<uint8_t>(v << 4);
      } else {
        out[digits / 2] |= static_cast<uint8_t>(v);
      }
      ++digits;
    }
    return digits == 32;
  }

  void BigEndian(uint64_t v, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  }
  void Int16(int16_t v) { BigEndian(static_cast<uint16_t>(v), 2); }
  void Int32(int32_t v) { BigEndian(static_cast<uint32_t>(v), 4); }
  void Null() { Int32(-1); }
  void Int64Field(int64_t v) {
    Int32(8);
    BigEndian(static_cast<uint64_t>(v), 8);
  }
  void Field(const void* bytes, size_t size) {
    Int32(static_cast<int32_t>(size));
    if (size > 0) out_.append(static_cast<const char*>(bytes), size);
  }
  void TextField(const char* s) {
    std::string_view text = s != nullptr ? s : "";
    Field(text.data(), text.size());
  }
  // jsonb's binary form: a format version (1) and the JSON text.
  void JsonbField(const uint8_t* json, size_t size) {
    Int32(static_cast<int32_t>(size + 1));
    out_.push_back('\1');
    out_.append(reinterpret_cast<const char*>(json), size);
  }

  std::string out_;
};

struct PostgresSink {
  const esdb_sink_host* host = nullptr;
  std::string connector_id;
  // The delivery history this instance continues (esdb_sink_host.generation and .epoch), when
  // the host says; an older host does not, and then every stored position counts as ours.
  bool history_known = false;
  int64_t generation = 0;
  int64_t epoch = 0;
  PostgresConfig config;
  Connection conn;
  std::map<std::string, std::string> prepared;  // event type ("*") -> prepared statement name

  void Log(esdb_sink_log_level level, const std::string& line) const {
    if (host != nullptr && ESDB_HAS_FUNCTION(esdb_sink_host, host, log)) {
      host->log(host->ctx, level, line.c_str());
    }
  }

  Result Exec(const std::string& sql) { return Result(PQexec(conn.get(), sql.c_str())); }

  Result ExecParams(const std::string& sql, const std::vector<const char*>& values,
                    const std::vector<int>& lengths, const std::vector<int>& formats) {
    return Result(PQexecParams(conn.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), lengths.data(), formats.data(), 0));
  }

  // Connects, creates what is missing, prepares the statements.
  Failure Connect() {
    prepared.clear();
    // Defaults first: the expanded connection string that follows overrides them.
    const char* keywords[] = {"connect_timeout",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "tcp_user_timeout",
                              "application_name",
                              "dbname",
                              nullptr};
    const char* values[] = {"10",
                            "30",
                            "10",
                            "3",
                            "60000",
                            "esdb-connectors postgres-sink",
                            config.connection_string.c_str(),
                            nullptr};
    conn.reset(PQconnectdbParams(keywords, values, 1));
    if (conn == nullptr) return {ESDB_SINK_RETRY, "cannot allocate a libpq connection"};
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      Failure f{ESDB_SINK_RETRY, "cannot connect: " + OneLine(PQerrorMessage(conn.get()))};
      conn.reset();
      return f;
    }
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);  // not to stderr
    Failure f = Setup();
    if (f.failed()) conn.reset();
    return f;
  }

  Failure Run(const std::string& sql, Phase phase, const std::string& context) {
    Result r = Exec(sql);
    if (Succeeded(r.get())) return {};
    return FailureOf(conn.get(), r.get(), phase, context);
  }

  Failure Setup() {
    // Warnings ("relation already exists, skipping") are not worth a log line.
    Run("SET client_min_messages = warning", Phase::kOpen, "setup");
    Failure f = Run("CREATE TABLE IF NOT EXISTS " + config.QualifiedPositions() +
                        " (connector_id text PRIMARY KEY, commit_position bigint NOT NULL, "
                        "prepare_position bigint NOT NULL, updated timestamptz NOT NULL "
                        "DEFAULT now(), generation bigint, epoch bigint)",
                    Phase::kOpen, "cannot create " + config.QualifiedPositions());
    if (f.failed()) return f;
    if (f = AddHistoryColumns(); f.failed()) return f;
    if (config.mode == Mode::kAppend) {
      f = Run("CREATE TABLE IF NOT EXISTS " + config.QualifiedTable() +
                  " (position bigint PRIMARY KEY, prepare_position bigint NOT NULL, "
                  "stream text NOT NULL, revision bigint NOT NULL, event_id uuid NOT NULL, "
                  "event_type text NOT NULL, content_type text NOT NULL, data jsonb, "
                  "data_bytes bytea, metadata jsonb, metadata_bytes bytea, "
                  "created timestamptz NOT NULL)",
              Phase::kOpen, "table: cannot create " + config.QualifiedTable());
      if (f.failed()) return f;
      // The table may have existed before with other columns: a statement against it says so.
      Result r(PQprepare(conn.get(), "", InsertSql(/*skip_existing=*/true).c_str(), 0, nullptr));
      if (!Succeeded(r.get())) {
        return FailureOf(conn.get(), r.get(), Phase::kOpen,
                         "table: " + config.QualifiedTable() + " does not fit");
      }
    } else {
      int n = 0;
      for (const auto& [type, statement] : config.statements) {
        std::string name = "esdb_statement_" + std::to_string(n++);
        Result r(PQprepare(conn.get(), name.c_str(), statement.sql.c_str(),
                           static_cast<int>(statement.parameters.size()), nullptr));
        if (!Succeeded(r.get())) {
          return FailureOf(conn.get(), r.get(), Phase::kOpen, "statement:" + type);
        }
        prepared[type] = name;
      }
    }
    return {};
  }

  // A positions table created by a version of the sink before generation and epoch lacks their
  // columns. They are added only when missing: ALTER TABLE takes a lock that waits for every
  // transaction on the table, other connectors' included.
  Failure AddHistoryColumns() {
    std::string table = config.QualifiedPositions();
    std::vector<const char*> values = {table.c_str()};
    Result r = ExecParams(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND "
        "attname IN ('generation', 'epoch') AND NOT attisdropped",
        values, {0}, {0});
    if (!Succeeded(r.get())) {
      return FailureOf(conn.get(), r.get(), Phase::kOpen, "cannot inspect " + table);
    }
    if (std::string(PQgetvalue(r.get(), 0, 0)) == "2") return {};
    return Run("ALTER TABLE " + table +
                   " ADD COLUMN IF NOT EXISTS generation bigint, "
                   "ADD COLUMN IF NOT EXISTS epoch bigint",
               Phase::kOpen, "cannot add generation and epoch to " + table);
  }

  // One row; the casts let the text and binary parameters go untyped. With `skip_existing`, a
  // row whose position the table holds already is left as it is (a replay after a reset: the
  // log's events do not change).
  std::string InsertSql(bool skip_existing) const {
    return "INSERT INTO " + config.QualifiedTable() +
           " (position, prepare_position, stream, revision, event_id, event_type, content_type, "
           "data, data_bytes, metadata, metadata_bytes, created) SELECT $1::bigint, $2::bigint, "
           "$3::text, $4::bigint, $5::uuid, $6::text, $7::text, $8::jsonb, $9::bytea, $10::jsonb, "
           "$11::bytea, $12::timestamptz" +
           (skip_existing ? " WHERE NOT EXISTS (SELECT 1 FROM " + config.QualifiedTable() +
                                " WHERE position = $1::bigint)"
                          : std::string());
  }

  // Whether the table holds a row at a position from `first` to `last`: a batch the table has
  // seen part of (after a reset or a re-create of the connector, which deliver again from an
  // earlier start, or rows of another connector writing the same table) cannot be one COPY.
  Failure HoldsRowsIn(uint64_t first, uint64_t last, bool& holds) {
    std::string from = std::to_string(first);
    std::string to = std::to_string(last);
    std::vector<const char*> values = {from.c_str(), to.c_str()};
    Result r = ExecParams("SELECT 1 FROM " + config.QualifiedTable() +
                              " WHERE position BETWEEN $1::bigint AND $2::bigint LIMIT 1",
                          values, {0, 0}, {0, 0});
    if (!Succeeded(r.get())) {
      return FailureOf(conn.get(), r.get(), Phase::kWrite,
                       "cannot read " + config.QualifiedTable());
    }
    holds = PQntuples(r.get()) > 0;
    return {};
  }

  // The position stored for this connector, locked until the transaction ends; -1 when none,
  // or when it belongs to an earlier history of the connector (an older generation or epoch).
  Failure LockPosition(int64_t& stored) {
    std::vector<const char*> values = {connector_id.c_str()};
    Result r = ExecParams("SELECT commit_position, generation, epoch FROM " +
                              config.QualifiedPositions() + " WHERE connector_id = $1 FOR UPDATE",
                          values, {0}, {0});
    if (!Succeeded(r.get())) {
      return FailureOf(conn.get(), r.get(), Phase::kWrite, "cannot read the stored position");
    }
    stored = -1;
    if (PQntuples(r.get()) == 0) return {};
    int64_t position = std::stoll(PQgetvalue(r.get(), 0, 0));
    if (!history_known || PQgetisnull(r.get(), 0, 1) || PQgetisnull(r.get(), 0, 2)) {
      // Stored by a sink (or for a host) that knew no histories: taken as this history's, so
      // that an upgrade goes on where it stopped.
      stored = position;
      return {};
    }
    int64_t stored_generation = std::stoll(PQgetvalue(r.get(), 0, 1));
    int64_t stored_epoch = std::stoll(PQgetvalue(r.get(), 0, 2));
    if (stored_generation == generation && stored_epoch == epoch) {
      stored = position;
      return {};
    }
    std::string theirs = "generation " + std::to_string(stored_generation) + ", epoch " +
                         std::to_string(stored_epoch);
    std::string ours =
        "generation " + std::to_string(generation) + ", epoch " + std::to_string(epoch);
    if (stored_generation > generation ||
        (stored_generation == generation && stored_epoch > epoch)) {
      // A later history has written: this instance is a stale runner the host has not fenced
      // yet. Applying its records would mix the old history into the new one's rows and move
      // the new one's position back; FATAL would record a failure against the connector the
      // new runner now runs. RETRY applies nothing until the host stops this runner.
      return {ESDB_SINK_RETRY, "the position stored for this connector (" + theirs +
                                   ") belongs to a later history than this instance's (" + ours +
                                   "): a newer runner delivers it; this one applies nothing"};
    }
    // A reset, an enable from a position or a re-create began a new history after the stored
    // one: it delivers from its own start, and its records are applied even at or below the
    // old position.
    Log(ESDB_SINK_LOG_INFO, "postgres-sink: stored position " + std::to_string(position) + " (" +
                                theirs + ") belongs to an earlier history; " + ours +
                                " applies its records from its own start");
    return {};
  }

  Failure StorePosition(const esdb_sink_record& last) {
    std::string commit = std::to_string(last.commit_position);
    std::string prepare = std::to_string(last.prepare_position);
    std::string gen = std::to_string(generation);
    std::string ep = std::to_string(epoch);
    std::vector<const char*> values = {connector_id.c_str(), commit.c_str(), prepare.c_str(),
                                       history_known ? gen.c_str() : nullptr,
                                       history_known ? ep.c_str() : nullptr};
    Result r = ExecParams(
        "INSERT INTO " + config.QualifiedPositions() +
            " (connector_id, commit_position, prepare_position, generation, epoch) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector_id) DO UPDATE SET "
            "commit_position = EXCLUDED.commit_position, "
            "prepare_position = EXCLUDED.prepare_position, generation = EXCLUDED.generation, "
            "epoch = EXCLUDED.epoch, updated = now()",
        values, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0});
    if (!Succeeded(r.get())) {
      return FailureOf(conn.get(), r.get(), Phase::kWrite, "cannot store the position");
    }
    return {};
  }

  // Append mode's fast path: the records as one binary COPY (see CopyWriter). A refusal for the
  // data (class 22 or 23) names no record; the caller then redoes the batch with
  // InsertOneByOne, which does.
  Failure Append(const esdb_sink_record* const* records, size_t count) {
    Result started = Exec(CopySql());
    if (started == nullptr || PQresultStatus(started.get()) != PGRES_COPY_IN) {
      return FailureOf(conn.get(), started.get(), Phase::kWrite,
                       "cannot start COPY into " + config.QualifiedTable());
    }
    CopyWriter copy;
    std::string why;
    size_t bad = count;
    for (size_t i = 0; i < count && bad == count; ++i) {
      if (!copy.Add(*records[i], why)) bad = i;
    }
    if (bad == count) copy.Finish();
    // In pieces: PQputCopyData takes an int, and batching:maxBytes may be larger.
    bool sent = bad == count;
    const std::string& bytes = copy.bytes();
    for (size_t at = 0; sent && at < bytes.size(); at += kCopyChunk) {
      size_t size = std::min(kCopyChunk, bytes.size() - at);
      sent = PQputCopyData(conn.get(), bytes.data() + at, static_cast<int>(size)) == 1;
    }
    // Ending with an error message makes the server abort the COPY (and so the transaction).
    if (PQputCopyEnd(conn.get(), sent ? nullptr : "the client abandoned the COPY") != 1) {
      return FailureOf(conn.get(), nullptr, Phase::kWrite, "cannot send the COPY");
    }
    Failure failure;
    for (Result r(PQgetResult(conn.get())); r != nullptr; r.reset(PQgetResult(conn.get()))) {
      if (!Succeeded(r.get()) && !failure.failed()) {
        failure = FailureOf(conn.get(), r.get(), Phase::kWrite,
                            "COPY of records at positions " +
                                std::to_string(records[0]->commit_position) + ".." +
                                std::to_string(records[count - 1]->commit_position) + " into " +
                                config.QualifiedTable());
      }
    }
    if (bad != count) return {ESDB_SINK_FATAL, RecordName(*records[bad]) + ": " + why};
    if (!sent && !failure.failed()) {
      failure = FailureOf(conn.get(), nullptr, Phase::kWrite, "cannot send the COPY");
    }
    failure.copy_refused = failure.status == ESDB_SINK_FATAL;
    return failure;
  }

  std::string CopySql() const {
    return "COPY " + config.QualifiedTable() +
           " (position, prepare_position, stream, revision, event_id, event_type, content_type, "
           "data, data_bytes, metadata, metadata_bytes, created) FROM STDIN (FORMAT binary)";
  }

  // The fallback after a COPY that the server refused for its data: one INSERT per record, so
  // that the first failure names its record; and the way of a batch the table holds some rows of
  // (`skip_existing`, see HoldsRowsIn). Runs only on those rare paths.
  Failure InsertOneByOne(const esdb_sink_record* const* records, size_t count,
                         bool skip_existing) {
    for (size_t at = 0; at < count; ++at) {
      const esdb_sink_record& r = *records[at];
      std::deque<std::string> text;  // owns the text parameters; push_back keeps them in place
      std::vector<const char*> values(kAppendColumns, nullptr);
      std::vector<int> lengths(kAppendColumns, 0);
      std::vector<int> formats(kAppendColumns, 0);
      text.push_back(std::to_string(r.commit_position));
      values[0] = text.back().c_str();
      text.push_back(std::to_string(r.prepare_position));
      values[1] = text.back().c_str();
      values[2] = r.stream != nullptr ? r.stream : "";
      text.push_back(std::to_string(r.revision));
      values[3] = text.back().c_str();
      values[4] = r.event_id != nullptr ? r.event_id : "";
      values[5] = r.event_type != nullptr ? r.event_type : "";
      values[6] = r.content_type != nullptr ? r.content_type : "";
      // The same choices as CopyWriter::Add; bytes in binary format.
      if (Text(r.content_type) == "application/json" && IsJson(r.data, r.data_size)) {
        text.emplace_back(reinterpret_cast<const char*>(r.data), r.data_size);
        values[7] = text.back().c_str();
      } else {
        values[8] = r.data_size > 0 ? reinterpret_cast<const char*>(r.data) : "";
        lengths[8] = static_cast<int>(r.data_size);
        formats[8] = 1;
      }
      if (r.metadata_size > 0 && IsJson(r.metadata, r.metadata_size)) {
        text.emplace_back(reinterpret_cast<const char*>(r.metadata), r.metadata_size);
        values[9] = text.back().c_str();
      } else if (r.metadata_size > 0) {
        values[10] = reinterpret_cast<const char*>(r.metadata);
        lengths[10] = static_cast<int>(r.metadata_size);
        formats[10] = 1;
      }
      text.push_back(esdb_plugin::Rfc3339(r.created_unix_us));
      values[11] = text.back().c_str();
      Result result = ExecParams(InsertSql(skip_existing), values, lengths, formats);
      if (!Succeeded(result.get())) {
        return FailureOf(conn.get(), result.get(), Phase::kWrite,
                         RecordName(r) + ": cannot insert into " + config.QualifiedTable());
      }
    }
    return {};
  }

  // Why the statement of `r` failed: names the record and the statement key.
  static std::string RecordContext(const esdb_sink_record& r, const std::string& key) {
    return RecordName(r) + ": statement:" + key + " failed";
  }

  // A statement sent in the pipeline and not yet answered.
  struct InFlight {
    const esdb_sink_record* record;
    const std::string* key;  // the statement: key, for messages
  };

  // Ends the pipeline segment of `sent` with a sync and reads its results in order; the first
  // error names its record (the statements after it are aborted by the server).
  Failure Collect(std::vector<InFlight>& sent) {
    if (PQpipelineSync(conn.get()) != 1) {
      return FailureOf(conn.get(), nullptr, Phase::kWrite, "cannot send the statements");
    }
    Failure failure;
    for (const InFlight& query : sent) {
      Result r(PQgetResult(conn.get()));
      if (r == nullptr) {
        return {ESDB_SINK_RETRY,
                "the statements' results are missing: " + OneLine(PQerrorMessage(conn.get()))};
      }
      if (PQresultStatus(r.get()) == PGRES_FATAL_ERROR && !failure.failed()) {
        failure =
            FailureOf(conn.get(), r.get(), Phase::kWrite, RecordContext(*query.record, *query.key));
      }
      Result end(PQgetResult(conn.get()));  // NULL: the end of this statement's results
    }
    Result sync(PQgetResult(conn.get()));
    if ((sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) &&
        !failure.failed()) {
      failure = {ESDB_SINK_RETRY, "the statements' results are out of step"};
    }
    sent.clear();
    return failure;
  }

  // The statements run in libpq's pipeline mode: up to kPipelineDepth are sent before their
  // results are read, so a batch costs a round trip per kPipelineDepth records rather than one
  // per record. The depth also bounds the results waiting unread: on a blocking connection, a
  // client that keeps sending while the server cannot write its results would deadlock.
  Failure ApplyStatements(const esdb_sink_record* const* records, size_t count) {
    if (PQenterPipelineMode(conn.get()) != 1) {
      return FailureOf(conn.get(), nullptr, Phase::kWrite, "cannot enter pipeline mode");
    }
    std::vector<InFlight> sent;
    Failure failure = SendStatements(records, count, sent);
    if (!failure.failed() && !sent.empty()) failure = Collect(sent);
    // Fails when results are still unread (a send failed): the connection is then dropped,
    // as the ROLLBACK that follows cannot run.
    if (PQexitPipelineMode(conn.get()) != 1 && !failure.failed()) {
      failure = FailureOf(conn.get(), nullptr, Phase::kWrite, "cannot leave pipeline mode");
    }
    return failure;
  }

  Failure SendStatements(const esdb_sink_record* const* records, size_t count,
                         std::vector<InFlight>& sent) {
    for (size_t i = 0; i < count; ++i) {
      const esdb_sink_record& r = *records[i];
      std::string type = Text(r.event_type);
      auto it = config.statements.find(type);
      if (it == config.statements.end()) it = config.statements.find("*");
      if (it == config.statements.end()) continue;  // no statement: nothing to apply
      const StatementTemplate& statement = it->second;
      std::vector<std::string> text(statement.parameters.size());
      std::vector<const char*> values(statement.parameters.size(), nullptr);
      nlohmann::json data, metadata;
      bool data_parsed = false, metadata_parsed = false;
      for (size_t p = 0; p < statement.parameters.size(); ++p) {
        const Parameter& parameter = statement.parameters[p];
        bool null = false;
        switch (parameter.field) {
          case Field::kStream:
            text[p] = Text(r.stream);
            break;
          case Field::kRevision:
            text[p] = std::to_string(r.revision);
            break;
          case Field::kPosition:
            text[p] = std::to_string(r.commit_position);
            break;
          case Field::kPreparePosition:
            text[p] = std::to_string(r.prepare_position);
            break;
          case Field::kEventId:
            text[p] = Text(r.event_id);
            break;
          case Field::kEventType:
            text[p] = type;
            break;
          case Field::kContentType:
            text[p] = Text(r.content_type);
            break;
          case Field::kCreated:
            text[p] = esdb_plugin::Rfc3339(r.created_unix_us);
            break;
          case Field::kData:
            text[p].assign(reinterpret_cast<const char*>(r.data), r.data_size);
            break;
          case Field::kMetadata:
            text[p].assign(reinterpret_cast<const char*>(r.metadata), r.metadata_size);
            null = r.metadata_size == 0;
            break;
          case Field::kDataPath:
          case Field::kMetadataPath: {
            bool is_data = parameter.field == Field::kDataPath;
            nlohmann::json& doc = is_data ? data : metadata;
            bool& parsed = is_data ? data_parsed : metadata_parsed;
            if (!parsed) {
              parsed = true;
              std::string_view bytes(reinterpret_cast<const char*>(is_data ? r.data : r.metadata),
                                     is_data ? r.data_size : r.metadata_size);
              if (esdb::JsonDepthWithin(bytes, kMaxJsonDepth)) {
                doc = nlohmann::json::parse(bytes, nullptr, false);
              }
            }
            null = !PathValue(doc, parameter.path, text[p]);
            break;
          }
        }
        values[p] = null ? nullptr : text[p].c_str();
      }
      // libpq copies the values into its output buffer here.
      if (PQsendQueryPrepared(conn.get(), prepared[it->first].c_str(),
                              static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                              0) != 1) {
        return FailureOf(conn.get(), nullptr, Phase::kWrite, RecordContext(r, it->first));
      }
      sent.push_back({&r, &it->first});
      if (sent.size() == kPipelineDepth) {
        if (Failure f = Collect(sent); f.failed()) return f;
      }
    }
    return {};
  }

  // The value at `path` in `doc` as parameter text (strings as they are, other values as JSON);
  // false for a missing value or JSON null, which become SQL NULL.
  static bool PathValue(const nlohmann::json& doc, const std::vector<std::string>& path,
                        std::string& out) {
    const nlohmann::json* at = &doc;
    for (const std::string& key : path) {
      if (!at->is_object()) return false;
      auto it = at->find(key);
      if (it == at->end()) return false;
      at = &*it;
    }
    if (at->is_null() || at->is_discarded()) return false;
    out = at->is_string() ? at->get<std::string>()
                          : at->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return true;
  }

  // One batch, one transaction. On failure the transaction is rolled back, and a broken
  // connection dropped so that the next write reconnects.
  Failure Deliver(const esdb_sink_record* const* records, size_t count) {
    if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
      if (Failure f = Connect(); f.failed()) {
        if (f.status != ESDB_SINK_RETRY) f.status = ESDB_SINK_FATAL;
        return f;
      }
    }
    for (size_t i = 0; i < count; ++i) {
      if (records[i]->commit_position > static_cast<uint64_t>(INT64_MAX) ||
          records[i]->prepare_position > static_cast<uint64_t>(INT64_MAX) ||
          records[i]->revision > static_cast<uint64_t>(INT64_MAX)) {
        return {ESDB_SINK_FATAL, "record at position " +
                                     std::to_string(records[i]->commit_position) +
                                     ": a position or revision beyond PostgreSQL's bigint"};
      }
    }
    Failure f = Transaction(records, count, /*one_by_one=*/false);
    if (f.failed()) Abandon();
    if (f.copy_refused && conn != nullptr) {
      // Which record the server refused, the same batch inserted one row at a time tells. It
      // runs as a transaction of its own: the position is read again under the lock.
      f = Transaction(records, count, /*one_by_one=*/true);
      if (f.failed()) Abandon();
    }
    return f;
  }

  // Ends a failed transaction: rolled back, or the connection dropped when that fails.
  void Abandon() {
    if (conn != nullptr && PQstatus(conn.get()) == CONNECTION_OK) {
      Result rollback = Exec("ROLLBACK");
      if (!Succeeded(rollback.get())) conn.reset();
    } else {
      conn.reset();
    }
  }

  Failure Transaction(const esdb_sink_record* const* records, size_t count, bool one_by_one) {
    if (Failure f = Run("BEGIN", Phase::kWrite, "cannot begin a transaction"); f.failed()) {
      return f;
    }
    int64_t stored = -1;
    if (Failure f = LockPosition(stored); f.failed()) return f;
    size_t first = 0;
    while (first < count && stored >= 0 &&
           records[first]->commit_position <= static_cast<uint64_t>(stored)) {
      ++first;
    }
    if (first > 0) {
      // Only after a crash or a lost acknowledgement: the host resends what it had not
      // checkpointed.
      Log(ESDB_SINK_LOG_INFO, "postgres-sink: skipped " + std::to_string(first) +
                                  " record(s) already applied (stored position " +
                                  std::to_string(stored) + ")");
    }
    if (first == count) return Run("ROLLBACK", Phase::kWrite, "cannot end the transaction");
    Failure f;
    if (config.mode == Mode::kStatements) {
      f = ApplyStatements(records + first, count - first);
    } else {
      bool replayed = false;
      f = HoldsRowsIn(records[first]->commit_position, records[count - 1]->commit_position,
                      replayed);
      if (f.failed()) return f;
      if (replayed || one_by_one) {
        f = InsertOneByOne(records + first, count - first, replayed);
      } else {
        f = Append(records + first, count - first);
      }
    }
    if (f.failed()) return f;
    if (f = StorePosition(*records[count - 1]); f.failed()) return f;
    return Run("COMMIT", Phase::kWrite, "commit failed");
  }
};

esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err, size_t err_size) {
  return esdb_plugin::Guarded("cannot check the settings", ESDB_SINK_INVALID_CONFIG, err, err_size,
                              [&]() -> esdb_sink_status {
                                PostgresConfig config;
                                std::string why = ParseConfig(settings, count, config);
                                if (why.empty()) return ESDB_SINK_OK;
                                CopyError(why, err, err_size);
                                return ESDB_SINK_INVALID_CONFIG;
                              });
}

esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                      esdb_sink_instance** out, char* err, size_t err_size) {
  return esdb_plugin::Guarded(
      "open failed", ESDB_SINK_FATAL, err, err_size, [&]() -> esdb_sink_status {
        auto sink = std::make_unique<PostgresSink>();
        sink->host = host;
        sink->connector_id = host != nullptr &&
                                     ESDB_HAS_FIELD(esdb_sink_host, host, connector_id) &&
                                     host->connector_id != nullptr
                                 ? host->connector_id
                                 : "";
        if (host != nullptr && ESDB_HAS_FIELD(esdb_sink_host, host, epoch)) {
          if (host->generation > static_cast<uint64_t>(INT64_MAX) ||
              host->epoch > static_cast<uint64_t>(INT64_MAX)) {
            CopyError("generation or epoch beyond PostgreSQL's bigint", err, err_size);
            return ESDB_SINK_FATAL;
          }
          sink->history_known = true;
          sink->generation = static_cast<int64_t>(host->generation);
          sink->epoch = static_cast<int64_t>(host->epoch);
        }
        if (std::string why = ParseConfig(settings, count, sink->config); !why.empty()) {
          CopyError(why, err, err_size);
          return ESDB_SINK_INVALID_CONFIG;
        }
        if (Failure f = sink->Connect(); f.failed()) {
          CopyError(f.message, err, err_size);
          return f.status;
        }
        sink->Log(ESDB_SINK_LOG_INFO,
                  "postgres-sink: connected (" +
                      std::string(sink->config.mode == Mode::kAppend
                                      ? "append into " + sink->config.QualifiedTable()
                                      : "statements") +
                      "); positions in " + sink->config.QualifiedPositions() +
                      (sink->history_known ? " (generation " + std::to_string(sink->generation) +
                                                 ", epoch " + std::to_string(sink->epoch) + ")"
                                           : ""));
        *out = reinterpret_cast<esdb_sink_instance*>(sink.release());
        return ESDB_SINK_OK;
      });
}

void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records, size_t count,
           esdb_sink_completion_fn done, void* done_ctx) {
  auto* sink = reinterpret_cast<PostgresSink*>(instance);
  Failure f;
  try {
    f = sink->Deliver(records, count);
  } catch (const std::exception& e) {
    // Nothing was committed unless COMMIT returned; the resent batch is checked against the
    // stored position, so RETRY is safe either way.
    sink->conn.reset();
    f.status = ESDB_SINK_RETRY;
    try {
      f.message = std::string("unexpected error: ") + e.what();
    } catch (...) {
    }
  } catch (...) {
    sink->conn.reset();
    f.status = ESDB_SINK_RETRY;
  }
  if (!f.failed()) {
    done(done_ctx, ESDB_SINK_OK, nullptr);
  } else {
    done(done_ctx, f.status, f.message.empty() ? "unexpected error" : f.message.c_str());
  }
}

esdb_sink_status Flush(esdb_sink_instance*, char*, size_t) {
  return ESDB_SINK_OK;  // every acknowledged batch was committed
}

void Close(esdb_sink_instance* instance) { delete reinterpret_cast<PostgresSink*>(instance); }

const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1,  // min_host_abi_version
    "postgres-sink",
    "1.0.0",
    "Writes events into PostgreSQL (one row per event, or the user's statements per event "
    "type), effectively once: the position is committed in the same transaction as the rows.",
    kSettings,
    kSettingsCount,
    Validate,
    Open,
    Write,
    Flush,
    Close,
    0};  // flags

}  // namespace
}  // namespace esdb_postgres_sink

extern "C" ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &esdb_postgres_sink::kPlugin;
}
