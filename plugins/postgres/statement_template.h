// postgres-sink: a user's SQL statement with named parameters ($stream, $data.customer.id, ...)
// turned into the server-side form ($1, $2, ...) and the list of what each number stands for.
// Pure: no I/O. Values never enter the SQL text; they travel as parameters.
#ifndef ESDB_PLUGINS_POSTGRES_STATEMENT_TEMPLATE_H_
#define ESDB_PLUGINS_POSTGRES_STATEMENT_TEMPLATE_H_

#include <string>
#include <string_view>
#include <vector>

namespace esdb_postgres_sink {

// What a parameter takes from the record.
enum class Field {
  kStream,
  kRevision,
  kPosition,  // commit position
  kPreparePosition,
  kEventId,
  kEventType,
  kContentType,
  kCreated,       // RFC 3339 text
  kData,          // the data as text
  kMetadata,      // the metadata as text
  kDataPath,      // a value inside the JSON data
  kMetadataPath,  // a value inside the JSON metadata
};

struct Parameter {
  Field field = Field::kStream;
  std::vector<std::string> path;  // for the path fields: the object keys, outermost first
};

struct StatementTemplate {
  std::string sql;                    // with $1..$n
  std::vector<Parameter> parameters;  // parameters[i] is $(i+1)
};

// The names a statement may use, for messages and the README.
inline constexpr std::string_view kParameterNames =
    "$stream, $revision, $position, $preparePosition, $eventId, $eventType, $contentType, "
    "$created, $data, $metadata, $data.<path>, $metadata.<path>";

// Translates `text`. `$name` outside string literals, quoted identifiers, dollar-quoted strings
// and comments is a parameter; the same name used twice is the same number. Returns "" and
// fills `out`, or why not (an unknown name, a positional $1, an unterminated literal).
std::string CompileStatement(std::string_view text, StatementTemplate& out);

}  // namespace esdb_postgres_sink

#endif  // ESDB_PLUGINS_POSTGRES_STATEMENT_TEMPLATE_H_
