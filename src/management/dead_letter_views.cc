#include "management/dead_letter_views.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/text.h"
#include "management/views.h"

namespace esdb {

using nlohmann::json;

absl::StatusOr<DeadLetterPage> DeadLetterPageFromUrl(absl::string_view query) {
  DeadLetterPage page;
  bool seen_skip = false, seen_take = false;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    int64_t n = -1;
    const bool number = absl::SimpleAtoi(kv.second, &n);
    if (kv.first == "skip") {
      if (seen_skip || !number || n < 0) {
        return absl::InvalidArgumentError("skip must be given once, as a whole number from 0");
      }
      seen_skip = true;
      page.skip = n;
    } else if (kv.first == "take") {
      if (seen_take || !number || n < 1 || n > 1000) {
        return absl::InvalidArgumentError("take must be given once, as a number from 1 to 1000");
      }
      seen_take = true;
      page.take = n;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown query parameter '", Excerpt(std::string(kv.first)), "'; known: skip, take"));
    }
  }
  return page;
}

json DeadLetterView(const DeadLetter& d) {
  const Record& r = d.record;
  json view = {{"deadLetterRevision", d.revision},
               {"stream", r.stream},
               {"revision", r.revision},
               {"position", r.position.commit},
               {"preparePosition", r.position.prepare},
               {"eventId", r.event_id},
               {"eventType", r.event_type},
               {"contentType", r.content_type},
               {"created", FormatTime(r.created_unix_us)},
               {"error", d.context.error},
               {"attempts", d.context.attempts},
               {"host", d.context.host},
               {"time", FormatTime(d.context.at_us)}};
  // As the dev node's stream reads show payloads: JSON as JSON, anything else as base64.
  auto body = [&view](const std::string& bytes, bool may_be_json, const char* key) {
    if (bytes.empty()) {
      view[key] = nullptr;
      return;
    }
    if (may_be_json) {
      if (auto parsed = ParseJson(bytes, kMaxEventJsonDepth, key); parsed.ok()) {
        view[key] = *std::move(parsed);
        return;
      }
    }
    view[absl::StrCat(key, "Base64")] = absl::Base64Escape(bytes);
  };
  body(r.data, r.content_type == "application/json", "data");
  body(r.metadata, true, "metadata");
  return view;
}

}  // namespace esdb
