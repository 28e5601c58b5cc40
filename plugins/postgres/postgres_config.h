// postgres-sink: its settings table and the parsed configuration of one instance. Pure: no I/O.
#ifndef ESDB_PLUGINS_POSTGRES_POSTGRES_CONFIG_H_
#define ESDB_PLUGINS_POSTGRES_POSTGRES_CONFIG_H_

#include <cstddef>
#include <map>
#include <string>

#include "esdb/sink.h"
#include "statement_template.h"

namespace esdb_postgres_sink {

extern const esdb_sink_setting* const kSettings[];
extern const size_t kSettingsCount;

enum class Mode { kAppend, kStatements };

struct PostgresConfig {
  std::string connection_string;
  std::string schema = "public";
  std::string table = "events";
  Mode mode = Mode::kAppend;
  // statements mode: by event type; "*" is the fallback.
  std::map<std::string, StatementTemplate> statements;
  std::map<std::string, std::string> statement_texts;  // as the user wrote them, for messages

  // `schema`.`table` and the positions table, quoted for SQL.
  std::string QualifiedTable() const;
  std::string QualifiedPositions() const;
};

// Parses the settings the host hands over (types checked, defaults applied; host keys ignored).
// Returns "" and fills `config`, or the reason, starting with the key at fault. Never quotes the
// connection string (it holds the password).
std::string ParseConfig(const esdb_sink_kv* settings, size_t count, PostgresConfig& config);

// "name" quoted as a PostgreSQL identifier.
std::string QuoteIdentifier(const std::string& name);

}  // namespace esdb_postgres_sink

#endif  // ESDB_PLUGINS_POSTGRES_POSTGRES_CONFIG_H_
