// The dev node's server-side filter (devnode/log_filter.h): LogFilter::Create on any subscribe
// options, then Matches on any events, as a filtered $all read or subscription runs it. The
// options reach the node from the library and, over gRPC, from any client.
//
// Input, one part a line: the scope (n, s or e: none, stream, event type; anything else is sent
// as an unknown scope), the regex (empty: none), the prefixes separated by TAB (an empty line:
// none), then events as `stream<TAB>event type`.
//
// Property: without a regex, matching is exactly "no scope, or no prefix given, or the subject
// starts with one of the prefixes"; with one, a prefix match still matches.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "devnode/log_filter.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> lines = esdb::fuzz::Split(esdb::fuzz::AsText(data, size), "\n");
  if (lines.size() < 3) return 0;
  esdb_subscribe_options options{};
  options.struct_size = sizeof(options);
  const char scope = lines[0].empty() ? 'n' : lines[0][0];
  options.filter_scope = scope == 'n'   ? ESDB_FILTER_NONE
                         : scope == 's' ? ESDB_FILTER_STREAM
                         : scope == 'e' ? ESDB_FILTER_EVENT_TYPE
                                        : static_cast<int32_t>(static_cast<unsigned char>(scope));
  const std::string regex(lines[1]);
  options.filter_regex = regex.empty() ? nullptr : regex.c_str();
  std::vector<std::string> prefixes;
  if (!lines[2].empty()) prefixes = absl::StrSplit(esdb::fuzz::Absl(lines[2]), '\t');
  std::vector<const char*> prefix_pointers;
  for (const std::string& p : prefixes) prefix_pointers.push_back(p.c_str());
  options.filter_prefixes = prefix_pointers.data();
  options.filter_prefix_count = prefix_pointers.size();

  absl::StatusOr<esdb::devnode::LogFilter> filter = esdb::devnode::LogFilter::Create(options);
  if (!filter.ok()) {
    FUZZ_CHECK(filter.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const bool scoped = options.filter_scope != ESDB_FILTER_NONE;
  // What the regex is compiled from: the C string, up to its first NUL.
  const bool has_regex = scoped && options.filter_regex != nullptr && regex.c_str()[0] != '\0';
  for (size_t i = 3; i < lines.size(); ++i) {
    std::pair<std::string, std::string> record =
        absl::StrSplit(esdb::fuzz::Absl(lines[i]), absl::MaxSplits('\t', 1));
    esdb::devnode::RecordedEvent event;
    event.stream = std::move(record.first);
    event.event_type = std::move(record.second);
    const std::string& subject =
        options.filter_scope == ESDB_FILTER_STREAM ? event.stream : event.event_type;
    bool prefix_match = false;
    for (const std::string& p : prefixes) {
      // The node sees each prefix as a C string too.
      prefix_match = prefix_match || subject.starts_with(p.c_str());
    }
    const bool matches = filter->Matches(event);
    if (!scoped || (!has_regex && prefixes.empty())) {
      FUZZ_CHECK(matches, "event %zu: an open filter dropped it", i);
    } else if (prefix_match) {
      FUZZ_CHECK(matches, "event %zu: a prefix matches but the filter drops it", i);
    } else if (!has_regex) {
      FUZZ_CHECK(!matches, "event %zu: matches without a regex or a prefix", i);
    }
  }
  return 0;
}
