// The connector filter (core/filter.h): Filter::Create on any spec, then Matches on any records,
// as a connector's delivery loop runs it on every event of the log.
//
// Input, one part a line: a header of three characters (scope s|r, type n|i|x|p for none,
// streamId, regex, prefix, include-system 0|1), the expression, then records as
// `stream<TAB>event type`.
//
// Properties: the connectors' own streams never match; without include-system no `$` stream
// does; streamId, prefix and no-filter matches agree with a plain reading of the spec; and the
// server-side filter built from ToServerFilter() (devnode/log_filter.h, what the node applies)
// passes every record Matches accepts, as filter.h promises.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "core/filter.h"
#include "core/text.h"
#include "devnode/log_filter.h"
#include "fuzz/fuzz_check.h"

namespace {

using esdb::FilterScope;
using esdb::FilterType;

esdb::FilterSpec SpecOf(std::string_view header, std::string_view expression) {
  esdb::FilterSpec spec;
  const char scope = header.size() > 0 ? header[0] : 's';
  const char type = header.size() > 1 ? header[1] : 'n';
  spec.scope = scope == 'r' ? FilterScope::kRecord : FilterScope::kStream;
  spec.type = type == 'i'   ? FilterType::kStreamId
              : type == 'x' ? FilterType::kRegex
              : type == 'p' ? FilterType::kPrefix
                            : FilterType::kNone;
  spec.include_system = header.size() > 2 && header[2] == '1';
  spec.expression = std::string(expression);
  return spec;
}

// What the spec means for the types whose meaning needs no regex engine; -1: not decided here.
int Expected(const esdb::FilterSpec& spec, std::string_view stream, std::string_view type) {
  if (stream == "$connectors" || stream.starts_with("$connectors/")) return 0;
  if (!spec.include_system && stream.starts_with("$")) return 0;
  const std::string_view subject = spec.scope == FilterScope::kStream ? stream : type;
  switch (spec.type) {
    case FilterType::kNone:
      return 1;
    case FilterType::kStreamId:
      return subject == spec.expression;
    case FilterType::kPrefix:
      for (absl::string_view p : absl::StrSplit(spec.expression, ',')) {
        p = absl::StripAsciiWhitespace(p);
        if (!p.empty() && subject.starts_with(esdb::fuzz::Std(p))) return 1;
      }
      return 0;
    case FilterType::kRegex:
      return -1;
  }
  return -1;
}

// The node-side filter the library would ask for.
absl::StatusOr<esdb::devnode::LogFilter> ServerSide(const esdb::ServerFilter& server,
                                                    std::vector<const char*>* prefixes) {
  esdb_subscribe_options options{};
  options.struct_size = sizeof(options);
  options.filter_scope = !server.enabled                        ? ESDB_FILTER_NONE
                         : server.scope == FilterScope::kStream ? ESDB_FILTER_STREAM
                                                                : ESDB_FILTER_EVENT_TYPE;
  options.filter_regex = server.regex.empty() ? nullptr : server.regex.c_str();
  for (const std::string& p : server.prefixes) prefixes->push_back(p.c_str());
  options.filter_prefixes = prefixes->data();
  options.filter_prefix_count = prefixes->size();
  return esdb::devnode::LogFilter::Create(options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> lines = esdb::fuzz::Split(esdb::fuzz::AsText(data, size), "\n");
  if (lines.size() < 2) return 0;
  const esdb::FilterSpec spec = SpecOf(lines[0], lines[1]);
  absl::StatusOr<esdb::Filter> filter = esdb::Filter::Create(spec);
  if (!filter.ok()) {
    FUZZ_CHECK(filter.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(spec.type != FilterType::kNone, "refused a spec without a filter");
    return 0;
  }
  const esdb::ServerFilter server = filter->ToServerFilter();
  std::vector<const char*> prefix_pointers;
  absl::StatusOr<esdb::devnode::LogFilter> node_filter = ServerSide(server, &prefix_pointers);
  FUZZ_CHECK(node_filter.ok(), "the node refuses the pushed-down filter: %s",
             std::string(node_filter.status().message()).c_str());

  for (size_t i = 2; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> split =
        absl::StrSplit(esdb::fuzz::Absl(lines[i]), absl::MaxSplits('\t', 1));
    const std::pair<std::string_view, std::string_view> record(esdb::fuzz::Std(split.first),
                                                               esdb::fuzz::Std(split.second));
    // Matches() runs the regex (stepped around, see fuzz_check.h).
    const bool matches = filter->Matches(record.first, record.second);
    const int expected = Expected(spec, record.first, record.second);
    FUZZ_CHECK(expected < 0 || matches == (expected == 1), "record %zu: Matches says %d", i,
               matches);
    // Stream names are UTF-8 wherever a filter meets them: the dev node refuses others at
    // append, and the client protocol carries them as proto3 strings. The pushed-down filter of a
    // connector without one (kNotSystemStreamRegex) is a UTF-8 regex, which a byte that is not
    // UTF-8 does not match, so only well-formed names are held to agreeing with the node here.
    if (matches && esdb::IsUtf8(esdb::fuzz::Absl(record.first))) {
      esdb::devnode::RecordedEvent event;
      event.stream = std::string(record.first);
      event.event_type = std::string(record.second);
      FUZZ_CHECK(node_filter->Matches(event), "record %zu matches but the node filter drops it", i);
    }
  }
  return 0;
}
