// postgres-sink (plugins/postgres): what `validate` runs on a connector's settings, through the
// plugin's config parser and its statement translation. No server is involved.
//
// Input: lines "key=value" (the first '=' splits; a value may hold '\r' and '\t' but not '\n').
//
// Properties:
//  - ParseConfig never crashes, and a refusal starts with the key it is about ("<key>:");
//  - a refusal never quotes a password given in the connection string (it is secret), unless
//    the same text stands in another setting;
//  - every statement it accepts translates to SQL whose $<n> parameters are numbered 1..count
//    of the parameters the template lists, and a statement without '$' is left as it was.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "esdb/sink.h"
#include "fuzz/fuzz_check.h"
#include "postgres/postgres_config.h"
#include "postgres/statement_template.h"

namespace {

using esdb_postgres_sink::CompileStatement;
using esdb_postgres_sink::ParseConfig;
using esdb_postgres_sink::PostgresConfig;
using esdb_postgres_sink::StatementTemplate;

// The value of password=... in a keyword=value connection string, unquoted form only.
std::string PasswordOf(std::string_view conninfo) {
  size_t at = conninfo.find("password=");
  if (at == std::string_view::npos) return "";
  std::string_view rest = conninfo.substr(at + 9);
  return std::string(rest.substr(0, rest.find(' ')));
}

void CheckTemplate(std::string_view text) {
  StatementTemplate t;
  if (!CompileStatement(text, t).empty()) return;
  if (text.find('$') == std::string_view::npos) FUZZ_CHECK(t.sql == text);
  // Numbers after '$' that are not part of a dollar quote or literal: at most the count.
  for (size_t i = 0; i + 1 < t.sql.size(); ++i) {
    if (t.sql[i] != '$' || t.sql[i + 1] < '1' || t.sql[i + 1] > '9') continue;
    if (i > 0 && t.sql[i - 1] != ' ' && t.sql[i - 1] != '(' && t.sql[i - 1] != ',') continue;
    size_t n = 0, j = i + 1;
    while (j < t.sql.size() && t.sql[j] >= '0' && t.sql[j] <= '9' && n < 1000000) {
      n = n * 10 + static_cast<size_t>(t.sql[j++] - '0');
    }
    // The user's text may hold "$1" inside literals or comments; ours are never above the count.
    if (text.find("$" + std::to_string(n)) == std::string_view::npos) {
      FUZZ_CHECK(n >= 1 && n <= t.parameters.size(), "$%zu of %zu", n, t.parameters.size());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string, std::string>> owned =
      esdb::fuzz::SettingLines(esdb::fuzz::AsText(data, size));
  std::vector<esdb_sink_kv> kv;
  std::string password;
  for (const auto& entry : owned) {
    kv.push_back({entry.first.c_str(), entry.second.c_str()});
    if (entry.first == "connectionString") password = PasswordOf(entry.second);
    if (entry.first.rfind("statement:", 0) == 0) CheckTemplate(entry.second);
  }
  // The password may also stand in another setting, whose refusal may quote that one.
  for (const auto& entry : owned) {
    if (entry.first != "connectionString" && !password.empty() &&
        (entry.second.find(password) != std::string::npos ||
         entry.first.find(password) != std::string::npos)) {
      password.clear();
    }
  }
  PostgresConfig config;
  std::string why = ParseConfig(kv.data(), kv.size(), config);
  if (!why.empty()) {
    FUZZ_CHECK(why.find(':') != std::string::npos, "%s", why.c_str());
    // Only a refusal of the connection string could quote it; check the part after the key.
    std::string_view rest(why);
    if (password.size() >= 6 && rest.rfind("connectionString: ", 0) == 0) {
      rest.remove_prefix(18);
      std::string_view fixed =
          "not a libpq connection string (keyword=value pairs or a "
          "postgresql:// URI)";
      if (fixed.find(password) == std::string_view::npos) {
        FUZZ_CHECK(rest.find(password) == std::string_view::npos, "%s", why.c_str());
      }
    }
  }
  return 0;
}
