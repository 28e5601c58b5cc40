// Connector settings (core/settings.h): FlattenSettings on any JSON document, then ParseSettings
// on the flat map, as the management API does with a create or reconfigure body.
//
// Input: a JSON document (first non-blank byte '{' or '['), or else one `key=value` a line,
// which reaches ParseSettings with strings no JSON document would produce.
//
// Properties: flattening gives non-empty keys; parsed settings keep the documented ranges, pass
// no host-namespace key to the sink, and carry a filter that Filter::Create accepts.
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "core/filter.h"
#include "core/settings.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"

namespace {

using esdb::SettingsMap;

void CheckParsed(const SettingsMap& flat) {
  absl::StatusOr<esdb::ConnectorSettings> parsed = esdb::ParseSettings(flat);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const esdb::ConnectorSettings& s = *parsed;
  FUZZ_CHECK(!s.instance_type.empty());
  FUZZ_CHECK(s.first_delay_ms >= 0 && s.first_delay_ms <= s.max_delay_ms);
  FUZZ_CHECK(s.multiplier >= 1.0 && s.multiplier <= 100.0);
  FUZZ_CHECK(s.batch_size >= 1 && s.batch_size <= 100000);
  FUZZ_CHECK(s.batch_max_bytes >= 1024);
  FUZZ_CHECK(s.autocommit_records_threshold >= 1);
  for (const auto& [key, value] : s.sink_settings) {
    FUZZ_CHECK(!esdb::IsHostKey(key), "host key '%s' passed to the sink", key.c_str());
    FUZZ_CHECK(flat.contains(key));
  }
  FUZZ_CHECK(esdb::Filter::Create(s.filter).ok(), "accepted a filter Filter::Create refuses");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = esdb::fuzz::AsText(data, size);
  const absl::string_view start = absl::StripLeadingAsciiWhitespace(esdb::fuzz::Absl(text));
  if (absl::StartsWith(start, "{") || absl::StartsWith(start, "[")) {
    nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) return 0;
    absl::StatusOr<SettingsMap> flat = esdb::FlattenSettings(document);
    if (!flat.ok()) {
      FUZZ_CHECK(flat.status().code() == absl::StatusCode::kInvalidArgument);
      return 0;
    }
    for (const auto& [key, value] : *flat) FUZZ_CHECK(!key.empty());
    CheckParsed(*flat);
    return 0;
  }
  SettingsMap flat;
  for (std::string_view line : esdb::fuzz::Split(text, "\n")) {
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    flat[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  CheckParsed(flat);
  return 0;
}
