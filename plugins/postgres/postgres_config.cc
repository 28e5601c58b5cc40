#include "postgres_config.h"

#include <libpq-fe.h>

#include <string_view>

namespace esdb_postgres_sink {
namespace {

constexpr std::string_view kStatementPrefix = "statement:";

const esdb_sink_setting kConnectionString = {
    sizeof(esdb_sink_setting),
    "connectionString",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    1,
    1,
    "libpq connection string: keyword=value pairs (host=db port=5432 dbname=app user=sink "
    "password=...) or a postgresql:// URI.",
    nullptr,
    ESDB_SINK_TARGET_NETWORK};
const esdb_sink_setting kSchema = {sizeof(esdb_sink_setting),
                                   "schema",
                                   ESDB_SINK_SETTING_STRING,
                                   "public",
                                   0,
                                   0,
                                   "Schema of the events table and of esdb_sink_positions.",
                                   nullptr,
                                   ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kTable = {sizeof(esdb_sink_setting),
                                  "table",
                                  ESDB_SINK_SETTING_STRING,
                                  "events",
                                  0,
                                  0,
                                  "append mode: the table that gets one row per event (created "
                                  "if missing).",
                                  nullptr,
                                  ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kMode = {
    sizeof(esdb_sink_setting),
    "mode",
    ESDB_SINK_SETTING_ENUM,
    "append",
    0,
    0,
    "append: one row per event in `table`; statements: run statement:<EventType> (or "
    "statement:*) for each event.",
    "append|statements",
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kStatement = {
    sizeof(esdb_sink_setting),
    "statement:",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "statements mode: statement:<EventType> (statement:* for any other type) is one SQL "
    "statement with named parameters such as $stream, $position, $data.customer.id.",
    nullptr,
    ESDB_SINK_TARGET_NONE};

bool HasControl(std::string_view text, bool allow_line_breaks) {
  for (unsigned char c : text) {
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Connection options that make libpq read a file on the node; refused so that the connection
// string cannot point the sink at the node's files.
bool ReadsNodeFile(std::string_view keyword) {
  for (std::string_view k :
       {"passfile", "service", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir"}) {
    if (keyword == k) return true;
  }
  return false;
}

// libpq's parse error with its quoted excerpts removed: they may be parts of the password.
std::string WithoutQuotes(const char* message) {
  std::string out;
  bool quoted = false;
  for (const char* p = message; *p != '\0'; ++p) {
    if (*p == '"') {
      quoted = !quoted;
      if (quoted) out += "\"...\"";
    } else if (!quoted && *p != '\n') {
      out.push_back(*p);
    }
  }
  return out;
}

std::string CheckConnectionString(const std::string& value) {
  if (HasControl(value, false)) return "connectionString: contains a control character";
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(value.c_str(), &error);
  if (options == nullptr) {
    std::string why =
        "connectionString: not a libpq connection string (keyword=value pairs or "
        "a postgresql:// URI)";
    if (error != nullptr) {
      why += ": " + WithoutQuotes(error);
      PQfreemem(error);
    }
    return why;
  }
  std::string why;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && ReadsNodeFile(o->keyword)) {
      why = std::string("connectionString: the option '") + o->keyword +
            "' is not allowed (it makes the sink read a file on the node)";
      break;
    }
  }
  PQconninfoFree(options);
  return why;
}

std::string CheckIdentifier(std::string_view key, std::string_view value) {
  if (value.empty()) return std::string(key) + ": must not be empty";
  if (value.size() > 63) return std::string(key) + ": longer than 63 bytes (PostgreSQL's limit)";
  if (HasControl(value, false) || value.find('\0') != std::string_view::npos) {
    return std::string(key) + ": contains a control character";
  }
  return "";
}

}  // namespace

const esdb_sink_setting* const kSettings[] = {&kConnectionString, &kSchema, &kTable, &kMode,
                                              &kStatement};
const size_t kSettingsCount = sizeof(kSettings) / sizeof(kSettings[0]);

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string PostgresConfig::QualifiedTable() const {
  return QuoteIdentifier(schema) + "." + QuoteIdentifier(table);
}

std::string PostgresConfig::QualifiedPositions() const {
  return QuoteIdentifier(schema) + ".esdb_sink_positions";
}

std::string ParseConfig(const esdb_sink_kv* settings, size_t count, PostgresConfig& config) {
  config = PostgresConfig();
  for (size_t i = 0; i < count; ++i) {
    if (settings[i].key == nullptr || settings[i].value == nullptr) continue;
    std::string_view key = settings[i].key;
    std::string_view value = settings[i].value;
    if (key == "connectionString") {
      config.connection_string = std::string(value);
    } else if (key == "schema") {
      if (std::string why = CheckIdentifier(key, value); !why.empty()) return why;
      config.schema = std::string(value);
    } else if (key == "table") {
      if (std::string why = CheckIdentifier(key, value); !why.empty()) return why;
      config.table = std::string(value);
    } else if (key == "mode") {
      config.mode = value == "statements" ? Mode::kStatements : Mode::kAppend;
    } else if (key.substr(0, kStatementPrefix.size()) == kStatementPrefix) {
      std::string type(key.substr(kStatementPrefix.size()));
      if (type.empty()) return std::string(key) + ": name the event type (or * for any other)";
      if (value.find('\0') != std::string_view::npos || HasControl(value, true)) {
        return std::string(key) + ": contains a control character";
      }
      StatementTemplate statement;
      if (std::string why = CompileStatement(value, statement); !why.empty()) {
        return std::string(key) + ": " + why;
      }
      config.statements[type] = std::move(statement);
      config.statement_texts[type] = std::string(value);
    }
  }
  if (config.connection_string.empty()) return "connectionString: required";
  if (std::string why = CheckConnectionString(config.connection_string); !why.empty()) {
    return why;
  }
  if (config.mode == Mode::kStatements && config.statements.empty()) {
    return "statement:<EventType>: statements mode needs at least one statement (statement:* "
           "for every event type)";
  }
  if (config.mode == Mode::kAppend && !config.statements.empty()) {
    return "statement:" + config.statements.begin()->first +
           ": statements are used only with mode=statements";
  }
  return "";
}

}  // namespace esdb_postgres_sink
