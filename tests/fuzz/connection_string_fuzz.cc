// ParseConnectionString (sidecar/connection_string.h) on any text: the side-car takes it from a
// flag or the environment and logs it through Redacted().
//
// Properties: an accepted string has at least one non-empty host; Redacted() hides the password,
// stays on one printable line (it goes to logs) and parses back to the same hosts, user name,
// scheme and TLS choice.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "sidecar/connection_string.h"

namespace {

bool Printable(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using esdb::sidecar::ConnectionSettings;
  const std::string text(esdb::fuzz::AsText(data, size));
  absl::StatusOr<ConnectionSettings> parsed = esdb::sidecar::ParseConnectionString(text);
  if (!parsed.ok()) return 0;
  FUZZ_CHECK(!parsed->hosts.empty());
  for (const auto& host : parsed->hosts) FUZZ_CHECK(!host.host.empty() && host.port != 0);
  FUZZ_CHECK(parsed->hosts.size() == 1 || parsed->discover);

  const std::string redacted = esdb::sidecar::Redacted(*parsed);
  FUZZ_CHECK(Printable(redacted), "Redacted() is not one printable line: %s", redacted.c_str());
  if (parsed->has_credentials()) {
    FUZZ_CHECK(redacted.find(":***@") != std::string::npos, "no hidden password in %s",
               redacted.c_str());
  }
  absl::StatusOr<ConnectionSettings> again = esdb::sidecar::ParseConnectionString(redacted);
  FUZZ_CHECK(again.ok(), "Redacted() output '%s' does not parse: %s", redacted.c_str(),
             std::string(again.status().message()).c_str());
  FUZZ_CHECK(again->scheme == parsed->scheme && again->discover == parsed->discover &&
                 again->username == parsed->username && again->tls == parsed->tls,
             "'%s' redacted as '%s' parses differently", text.c_str(), redacted.c_str());
  FUZZ_CHECK(again->hosts.size() == parsed->hosts.size());
  for (size_t i = 0; i < parsed->hosts.size(); ++i) {
    FUZZ_CHECK(again->hosts[i].host == parsed->hosts[i].host &&
                   again->hosts[i].port == parsed->hosts[i].port,
               "host %zu of '%s' changed in '%s'", i, text.c_str(), redacted.c_str());
  }
  return 0;
}
