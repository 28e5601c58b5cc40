#include "core/filter.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/regex.h"
#include "core/text.h"

namespace esdb {
namespace {

constexpr char kExpressionKey[] = "subscription:filter:expression";

}  // namespace

bool IsConnectorsStream(std::string_view stream) {
  return stream == "$connectors" || stream.starts_with("$connectors/");
}

absl::StatusOr<Filter> Filter::Create(const FilterSpec& spec) {
  Filter f;
  f.spec_ = spec;
  // A NUL would cut the expression pushed down to the node as a C string.
  if (spec.type != FilterType::kNone && FindControl(spec.expression) != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(kExpressionKey, ": control characters are not allowed"));
  }
  switch (spec.type) {
    case FilterType::kNone:
      break;
    case FilterType::kStreamId:
      if (spec.expression.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(kExpressionKey, ": a streamId filter needs the stream id"));
      }
      break;
    case FilterType::kPrefix:
      for (absl::string_view p : absl::StrSplit(spec.expression, ',')) {
        p = absl::StripAsciiWhitespace(p);
        if (!p.empty()) f.prefixes_.emplace_back(p);
      }
      if (f.prefixes_.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(kExpressionKey, ": a prefix filter needs at least one prefix"));
      }
      break;
    case FilterType::kRegex:
      if (spec.expression.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(kExpressionKey, ": a regex filter needs a regular expression"));
      }
      if (auto re = CompileRegex(spec.expression, kExpressionKey); re.ok()) {
        f.regex_ = *std::move(re);
      } else {
        return re.status();
      }
      break;
  }
  return f;
}

bool Filter::Matches(std::string_view stream, std::string_view event_type) const {
  if (IsConnectorsStream(stream)) return false;
  if (!spec_.include_system && stream.starts_with("$")) return false;
  std::string_view subject = spec_.scope == FilterScope::kStream ? stream : event_type;
  switch (spec_.type) {
    case FilterType::kNone:
      return true;
    case FilterType::kStreamId:
      return subject == spec_.expression;
    case FilterType::kPrefix:
      for (const auto& p : prefixes_) {
        if (subject.starts_with(p)) return true;
      }
      return false;
    case FilterType::kRegex:
      return RegexFound(*regex_, absl::string_view(subject.data(), subject.size()));
  }
  return false;
}

ServerFilter Filter::ToServerFilter() const {
  ServerFilter out;
  out.scope = spec_.scope;
  switch (spec_.type) {
    case FilterType::kNone:
      // The system streams are pushed down, unless they are wanted: they are not few. With many
      // connectors on a host the connectors' own checkpoints are a large part of the log, and
      // each would otherwise be copied to every connector without a filter, only for Matches()
      // to drop it. A node evaluates one regex once per event for all the subscriptions that
      // share it. Every stream a connector could deliver passes (the empty name too), so such a
      // connector still sees all its activity (Runner::node_filtered_ stays false).
      if (!spec_.include_system) {
        out.enabled = true;
        out.scope = FilterScope::kStream;
        out.regex = std::string(kNotSystemStreamRegex);
      }
      break;
    case FilterType::kStreamId:
      out.enabled = true;
      out.prefixes = {spec_.expression};  // a superset; Matches() checks equality
      break;
    case FilterType::kPrefix:
      out.enabled = true;
      out.prefixes = prefixes_;
      break;
    case FilterType::kRegex:
      out.enabled = true;
      out.regex = spec_.expression;
      break;
  }
  return out;
}

}  // namespace esdb
