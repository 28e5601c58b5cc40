// http-sink (plugins/http): what `validate` and `open` run on a connector's settings (its config
// parser and URL template), and the request target each record's stream and event type make.
//
// Input: lines "key=value" (see SettingLines); the lines "%stream=..." and "%type=..." are not
// settings but a record's stream id and event type, which whoever may append chooses.
//
// Properties:
//  - ParseConfig never crashes, and a refusal starts with the key it is about ("<key>: ");
//  - a refusal never quotes the basic password or the bearer token (secrets), not even six bytes
//    of one, unless the same text stands in another setting (see below how a quote is told from
//    a coincidence);
//  - an accepted configuration's header names are tokens, and no header value (the
//    Authorization one included) holds a control character;
//  - the request target of any record starts with '/', holds only visible ASCII, and has as many
//    '/', '?', '#' and '@' as the same template with empty values: a stream id or an event type
//    cannot add a path segment, a query, a fragment or user info.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "esdb/sink.h"
#include "fuzz/fuzz_check.h"
#include "http/http_config.h"

namespace {

using esdb_http_sink::HttpConfig;
using esdb_http_sink::ParseConfig;

bool IsTokenChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

size_t Count(std::string_view s, std::string_view of) {
  size_t n = 0;
  for (char c : s) n += of.find(c) != std::string_view::npos;
  return n;
}

// Bytes of a secret in a row that make a quote of it.
constexpr size_t kQuote = 6;

// A secret may be quoted only when the same text stands elsewhere in the input.
bool StandsElsewhere(const std::vector<std::pair<std::string, std::string>>& settings,
                     const std::string& secret_key, const std::string& secret) {
  for (const auto& [key, value] : settings) {
    if (key == secret_key) continue;
    if (key.find(secret) != std::string::npos || value.find(secret) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string stream, type;
  std::vector<std::pair<std::string, std::string>> settings;
  for (auto& [key, value] : esdb::fuzz::SettingLines(esdb::fuzz::AsText(data, size))) {
    if (key == "%stream") {
      stream = value;
    } else if (key == "%type") {
      type = value;
    } else {
      settings.emplace_back(std::move(key), std::move(value));
    }
  }
  std::vector<esdb_sink_kv> kv;
  for (const auto& [key, value] : settings) kv.push_back({key.c_str(), value.c_str()});

  HttpConfig config;
  std::string why = ParseConfig(kv.data(), kv.size(), config);
  if (!why.empty()) {
    size_t colon = why.find(": ");
    FUZZ_CHECK(colon != std::string::npos && colon > 0, "%s", why.c_str());
    // A secret is quoted when its text flows into the message: with every byte of it but the
    // control characters changed (the same checks then pass or fail), the new text appears.
    for (size_t i = 0; i < settings.size(); ++i) {
      const std::string& key = settings[i].first;
      if (key != "authentication:basic:password" && key != "authentication:bearer:token") continue;
      std::string marked = settings[i].second;
      for (char& c : marked) {
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) c = c == 'x' ? 'y' : 'x';
      }
      if (marked.size() < kQuote) continue;
      std::vector<esdb_sink_kv> changed = kv;
      changed[i].value = marked.c_str();
      HttpConfig ignored;
      std::string again = ParseConfig(changed.data(), changed.size(), ignored);
      // Any part of it counts (a message may cut or escape what it quotes).
      for (size_t at = 0; at + kQuote <= marked.size(); ++at) {
        const std::string part = marked.substr(at, kQuote);
        if (HasControl(part) || StandsElsewhere(settings, key, part)) continue;
        FUZZ_CHECK(again.find(part) == std::string::npos, "%s quotes %s", again.c_str(),
                   key.c_str());
      }
    }
    return 0;
  }
  for (const auto& [name, value] : config.default_headers) {
    FUZZ_CHECK(!name.empty(), "an empty header name");
    for (unsigned char c : name) FUZZ_CHECK(IsTokenChar(c), "header name %s", name.c_str());
    FUZZ_CHECK(!HasControl(value), "header %s", name.c_str());
  }
  FUZZ_CHECK(!HasControl(config.authorization), "the Authorization value");
  FUZZ_CHECK(!HasControl(config.method), "the method");

  const std::string target = config.url.Expand(stream, type);
  const std::string bare = config.url.Expand("", "");
  FUZZ_CHECK(!target.empty() && target.front() == '/', "%s", target.c_str());
  for (unsigned char c : target) FUZZ_CHECK(c > 0x20 && c < 0x7f, "%s", target.c_str());
  FUZZ_CHECK(Count(target, "/?#@") == Count(bare, "/?#@"), "%s vs %s", target.c_str(),
             bare.c_str());
  return 0;
}
