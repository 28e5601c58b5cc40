#include "statement_template.h"

#include <map>

namespace esdb_postgres_sink {
namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool FieldByName(std::string_view name, Field& field) {
  static const std::map<std::string_view, Field> kFields = {
      {"stream", Field::kStream},
      {"revision", Field::kRevision},
      {"position", Field::kPosition},
      {"preparePosition", Field::kPreparePosition},
      {"eventId", Field::kEventId},
      {"eventType", Field::kEventType},
      {"contentType", Field::kContentType},
      {"created", Field::kCreated},
      {"data", Field::kData},
      {"metadata", Field::kMetadata}};
  auto it = kFields.find(name);
  if (it == kFields.end()) return false;
  field = it->second;
  return true;
}

// Index just past the end of what starts at `at` and closes with `close` (doubled `close`
// stays inside, as SQL escapes quotes), or npos.
size_t SkipQuoted(std::string_view text, size_t at, char close) {
  for (size_t i = at + 1; i < text.size(); ++i) {
    if (text[i] != close) continue;
    if (i + 1 < text.size() && text[i + 1] == close) {
      ++i;
      continue;
    }
    return i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

std::string CompileStatement(std::string_view text, StatementTemplate& out) {
  out = StatementTemplate();
  std::map<std::string, size_t> numbers;  // parameter spelling -> 1-based number
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\'' || c == '"') {
      // E'...' strings may escape a quote with a backslash too.
      bool backslashes = c == '\'' && i > 0 && (text[i - 1] == 'E' || text[i - 1] == 'e');
      size_t end = std::string_view::npos;
      if (backslashes) {
        for (size_t j = i + 1; j < text.size(); ++j) {
          if (text[j] == '\\') {
            ++j;
          } else if (text[j] == '\'') {
            if (j + 1 < text.size() && text[j + 1] == '\'') {
              ++j;
              continue;
            }
            end = j + 1;
            break;
          }
        }
      } else {
        end = SkipQuoted(text, i, c);
      }
      if (end == std::string_view::npos) {
        return c == '\'' ? "unterminated string literal" : "unterminated quoted identifier";
      }
      out.sql.append(text.substr(i, end - i));
      i = end;
    } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
      size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
      out.sql.append(text.substr(i, end - i));
      i = end;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return "unterminated comment";
      out.sql.append(text.substr(i, end + 2 - i));
      i = end + 2;
    } else if (c == '$' && i > 0 && IsIdentChar(text[i - 1])) {
      out.sql.push_back(c);  // inside an identifier (a$b), as PostgreSQL allows
      ++i;
    } else if (c == '$') {
      size_t j = i + 1;
      if (j < text.size() && IsDigit(text[j])) {
        return "positional parameters ($1, ...) are not allowed; use the named ones (" +
               std::string(kParameterNames) + ")";
      }
      while (j < text.size() && IsIdentChar(text[j])) ++j;
      if (j < text.size() && text[j] == '$') {
        // A dollar-quoted string: $$...$$ or $tag$...$tag$.
        std::string_view tag = text.substr(i, j + 1 - i);
        size_t end = text.find(tag, j + 1);
        if (end == std::string_view::npos) return "unterminated dollar-quoted string";
        out.sql.append(text.substr(i, end + tag.size() - i));
        i = end + tag.size();
        continue;
      }
      if (j == i + 1) return "'$' is not followed by a parameter name";
      std::string_view base = text.substr(i + 1, j - i - 1);
      Parameter parameter;
      if (!FieldByName(base, parameter.field)) {
        return "unknown parameter $" + std::string(base) +
               " (known: " + std::string(kParameterNames) + ")";
      }
      // A JSON path: .key.key... after $data or $metadata.
      while (j + 1 < text.size() && text[j] == '.' && IsIdentStart(text[j + 1])) {
        if (parameter.field != Field::kData && parameter.field != Field::kMetadata &&
            parameter.field != Field::kDataPath && parameter.field != Field::kMetadataPath) {
          break;  // "$stream.x" is $stream followed by ".x"; the server judges that
        }
        size_t start = j + 1;
        j = start;
        while (j < text.size() && IsIdentChar(text[j])) ++j;
        parameter.path.emplace_back(text.substr(start, j - start));
        parameter.field = parameter.field == Field::kData || parameter.field == Field::kDataPath
                              ? Field::kDataPath
                              : Field::kMetadataPath;
      }
      std::string spelling(text.substr(i, j - i));
      auto [it, added] = numbers.emplace(spelling, out.parameters.size() + 1);
      if (added) out.parameters.push_back(std::move(parameter));
      out.sql += "$" + std::to_string(it->second);
      i = j;
    } else {
      out.sql.push_back(c);
      ++i;
    }
  }
  if (out.parameters.size() > 65535) return "more than 65535 parameters";
  return "";
}

}  // namespace esdb_postgres_sink
