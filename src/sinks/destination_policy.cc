#include "sinks/destination_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/text.h"

namespace esdb {
namespace {

namespace fs = std::filesystem;

// An address as 16 bytes, IPv4 mapped (::ffff:a.b.c.d). False for anything but an IP literal.
bool ToAddress(const std::string& host, uint8_t out[16]) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, &v4, 4);
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    std::memcpy(out, &v6, 16);
    return true;
  }
  return false;
}

bool IsLocal(const std::string& host) {
  if (host == "localhost" || absl::EndsWith(host, ".localhost")) return true;
  uint8_t a[16];
  if (!ToAddress(host, a)) return false;
  static const uint8_t kZero[16] = {};
  bool mapped = std::memcmp(a, kZero, 10) == 0 && a[10] == 0xff && a[11] == 0xff;
  if (mapped) return a[12] == 127 || (a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] == 0);
  bool loopback_or_any = std::memcmp(a, kZero, 15) == 0 && (a[15] == 1 || a[15] == 0);
  return loopback_or_any;
}

// "host", "host:port", "[v6]", "[v6]:port"; the host lower-cased, brackets dropped.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(absl::string_view text,
                                                           int default_port) {
  text = absl::StripAsciiWhitespace(text);
  std::string host;
  absl::string_view port_text;
  if (absl::ConsumePrefix(&text, "[")) {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError("unclosed '['");
    host = std::string(text.substr(0, close));
    text.remove_prefix(close + 1);
    if (!text.empty() && !absl::ConsumePrefix(&text, ":")) {
      return absl::InvalidArgumentError("text after ']'");
    }
    port_text = text;
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    host = std::string(text);  // a bare IPv6 address
  } else {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(text, absl::MaxSplits(':', 1));
    host = std::string(parts.first);
    port_text = parts.second;
  }
  int port = default_port;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("bad port '", Excerpt(port_text), "'"));
  }
  if (host.empty()) return absl::InvalidArgumentError("no host");
  return std::make_pair(absl::AsciiStrToLower(host), port);
}

// %XX sequences decoded (as in a postgresql:// URI); anything malformed is kept as it is.
std::string PercentDecoded(absl::string_view text) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The servers named by libpq's host, hostaddr and port options (each a comma-separated list; one
// port applies to every host). A host that is empty or absent is libpq's default, a local
// server, counted as "localhost". Unix-socket folders (starting with '/' or '@') are kept as
// they are: they are not TCP destinations, and an allow-list must name them to let them pass.
absl::StatusOr<std::vector<std::pair<std::string, int>>> LibpqServers(const std::string& host,
                                                                     const std::string& hostaddr,
                                                                     const std::string& port) {
  std::vector<std::string> hosts = absl::StrSplit(host, ',');
  std::vector<std::string> addrs = absl::StrSplit(hostaddr, ',');
  std::vector<std::string> ports = absl::StrSplit(port, ',');
  size_t n = std::max(hosts.size(), addrs.size());
  if (ports.size() != 1 && ports.size() != n) {
    return absl::InvalidArgumentError("the numbers of hosts and ports differ");
  }
  std::vector<std::pair<std::string, int>> out;
  for (size_t i = 0; i < n; ++i) {
    std::string p(absl::StripAsciiWhitespace(ports.size() == 1 ? ports[0] : ports[i]));
    int number = 5432;
    if (!p.empty() && (!absl::SimpleAtoi(p, &number) || number < 1 || number > 65535)) {
      return absl::InvalidArgumentError(absl::StrCat("bad port '", Excerpt(p), "'"));
    }
    std::string h(absl::StripAsciiWhitespace(i < hosts.size() ? hosts[i] : ""));
    std::string a(absl::StripAsciiWhitespace(i < addrs.size() ? addrs[i] : ""));
    if (!a.empty()) out.emplace_back(absl::AsciiStrToLower(a), number);  // what is connected to
    if (!h.empty()) {
      out.emplace_back(h[0] == '/' || h[0] == '@' ? h : absl::AsciiStrToLower(h), number);
    }
    if (a.empty() && h.empty()) out.emplace_back("localhost", number);
  }
  return out;
}

// A libpq keyword=value connection string: values bare or in single quotes, backslash escapes.
absl::StatusOr<std::vector<std::pair<std::string, int>>> ConninfoServers(
    absl::string_view text) {
  std::string host, hostaddr, port;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  for (skip_space(); i < text.size(); skip_space()) {
    size_t start = i;
    while (i < text.size() && text[i] != '=' &&
           !absl::ascii_isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string keyword(text.substr(start, i - start));
    skip_space();
    if (i >= text.size() || text[i] != '=') {
      return absl::InvalidArgumentError(absl::StrCat("no '=' after '", Excerpt(keyword), "'"));
    }
    ++i;
    skip_space();
    std::string value;
    bool quoted = i < text.size() && text[i] == '\'';
    if (quoted) ++i;
    bool closed = !quoted;
    while (i < text.size()) {
      char c = text[i];
      if (quoted && c == '\'') {
        ++i;
        closed = true;
        break;
      }
      if (!quoted && absl::ascii_isspace(static_cast<unsigned char>(c))) break;
      if (c == '\\' && i + 1 < text.size()) c = text[++i];
      value.push_back(c);
      ++i;
    }
    if (!closed) return absl::InvalidArgumentError("unterminated quoted value");
    if (keyword == "host") host = value;
    if (keyword == "hostaddr") hostaddr = value;
    if (keyword == "port") port = value;
  }
  return LibpqServers(host, hostaddr, port);
}

// A postgresql:// URI: hosts in the authority (comma-separated, each with an optional port) and
// host, hostaddr and port in the query.
absl::StatusOr<std::vector<std::pair<std::string, int>>> PostgresUriServers(
    absl::string_view rest) {
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  absl::string_view query;
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    query = query.substr(0, query.find('#'));
  }
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string host, hostaddr, port;
  for (absl::string_view item : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first == "host") host = PercentDecoded(kv.second);
    if (kv.first == "hostaddr") hostaddr = PercentDecoded(kv.second);
    if (kv.first == "port") port = PercentDecoded(kv.second);
  }
  // Hosts in the query replace those of the authority, as in libpq.
  if (!host.empty() || !hostaddr.empty() || authority.empty()) {
    return LibpqServers(host, hostaddr, port);
  }
  std::vector<std::pair<std::string, int>> out;
  for (absl::string_view item : absl::StrSplit(authority, ',')) {
    std::string decoded = PercentDecoded(item);
    if (decoded.empty()) {
      out.emplace_back("localhost", 5432);
      continue;
    }
    if (decoded[0] == '/') {
      out.emplace_back(decoded, 5432);
      continue;
    }
    auto hp = ParseHostPort(decoded, 5432);
    if (!hp.ok()) return hp.status();
    if (!port.empty()) {
      int number = 0;
      if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
        return absl::InvalidArgumentError(absl::StrCat("bad port '", Excerpt(port), "'"));
      }
      hp->second = number;
    }
    out.push_back(*hp);
  }
  return out;
}

// Where a URL, a comma-separated host:port list or a libpq connection string (keyword=value
// pairs) points.
absl::StatusOr<std::vector<std::pair<std::string, int>>> Destinations(const std::string& value) {
  std::vector<std::pair<std::string, int>> out;
  size_t scheme_end = value.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = absl::AsciiStrToLower(value.substr(0, scheme_end));
    absl::string_view rest = absl::string_view(value).substr(scheme_end + 3);
    if (scheme == "postgresql" || scheme == "postgres") return PostgresUriServers(rest);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = rest.rfind('@'); at != absl::string_view::npos) rest.remove_prefix(at + 1);
    int default_port = scheme == "https" ? 443 : scheme == "http" ? 80 : 0;
    auto hp = ParseHostPort(rest, default_port);
    if (!hp.ok()) return hp.status();
    out.push_back(*hp);
    return out;
  }
  if (value.find('=') != std::string::npos) return ConninfoServers(value);
  for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    auto hp = ParseHostPort(item, 0);
    if (!hp.ok()) return hp.status();
    out.push_back(*hp);
  }
  if (out.empty()) return absl::InvalidArgumentError("no destination");
  return out;
}

// Whether `path` lies at or below `root` (both absolute and normal).
bool IsUnder(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<DestinationPolicy> DestinationPolicy::Create(DestinationPolicyOptions options) {
  DestinationPolicy policy;
  if (!options.files_root.empty()) {
    std::error_code ec;
    fs::path root = fs::weakly_canonical(fs::absolute(options.files_root, ec), ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("sink file root ", options.files_root, ": ", ec.message()));
    }
    policy.files_root_ = root.string();
  }
  for (const std::string& entry : options.allowed_hosts) {
    Rule rule;
    if (size_t slash = entry.find('/'); slash != std::string::npos) {
      rule.cidr = true;
      int bits = -1;
      std::string network = entry.substr(0, slash);
      bool v4 = network.find(':') == std::string::npos;
      if (!ToAddress(network, rule.addr) || !absl::SimpleAtoi(entry.substr(slash + 1), &bits) ||
          bits < 0 || bits > (v4 ? 32 : 128)) {
        return absl::InvalidArgumentError(
            absl::StrCat("allowed sink hosts: '", Excerpt(entry), "' is not a CIDR range"));
      }
      rule.prefix_bits = v4 ? 96 + bits : bits;
    } else {
      auto hp = ParseHostPort(entry, 0);
      if (!hp.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("allowed sink hosts: '", Excerpt(entry),
                                                       "': ", hp.status().message()));
      }
      rule.host = hp->first;
      rule.port = hp->second;
    }
    policy.allowed_.push_back(rule);
  }
  for (const std::string& entry : options.own_endpoints) {
    auto hp = ParseHostPort(entry, 0);
    if (!hp.ok() || hp->second == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("host endpoint '", Excerpt(entry), "' is not host:port"));
    }
    policy.own_.push_back({hp->first, hp->second});
  }
  return policy;
}

absl::Status DestinationPolicy::Apply(const SinkPlugin& plugin, SettingsMap& sink_settings) const {
  for (auto& [key, value] : sink_settings) {
    switch (plugin.TargetOf(key)) {
      case ESDB_SINK_TARGET_FILE:
        if (auto s = CheckFile(key, value); !s.ok()) return s;
        break;
      case ESDB_SINK_TARGET_NETWORK:
        if (auto s = CheckNetwork(key, value, plugin.IsSecret(key)); !s.ok()) return s;
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status DestinationPolicy::CheckFile(const std::string& key, std::string& value) const {
  if (value.empty()) return absl::OkStatus();  // "required" is the plugin's to say
  if (files_root_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": this host lets sinks use no files (it has no --sink-files-root)"));
  }
  const fs::path root(files_root_);
  fs::path path(value);
  if (path.is_relative()) path = root / path;
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(path, ec);  // symbolic links followed, ".." folded
  if (ec || !IsUnder(resolved, root)) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": '", Excerpt(value), "' is outside the sink file root ", files_root_,
        " (symbolic links and '..' are followed)"));
  }
  value = resolved.string();
  return absl::OkStatus();
}

absl::Status DestinationPolicy::CheckNetwork(const std::string& key, const std::string& value,
                                             bool secret) const {
  auto destinations = Destinations(value);
  if (!destinations.ok() && secret) {
    // Neither the value nor the parser's excerpt of it: it may hold a password.
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": the host cannot tell where this (secret) value points; give a URL, "
                          "host:port list or libpq host=/port= options"));
  }
  if (!destinations.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": '", Excerpt(value),
                                                   "' is not a destination: ",
                                                   destinations.status().message()));
  }
  for (const auto& destination : *destinations) {
    // Named, not a structured binding: clang before 16 cannot capture those in the lambda.
    const std::string& host = destination.first;
    const int port = destination.second;
    for (const Endpoint& own : own_) {
      if (port == own.port && (IsLocal(host) || host == own.host)) {
        return absl::InvalidArgumentError(absl::StrCat(
            key, ": ", Excerpt(host), ":", port, " is this host's own port; sinks may not "
            "send there"));
      }
    }
    if (allowed_.empty()) continue;
    uint8_t addr[16];
    bool is_ip = ToAddress(host, addr);
    bool allowed = std::any_of(allowed_.begin(), allowed_.end(), [&](const Rule& r) {
      if (r.cidr) {
        if (!is_ip) return false;
        for (int bit = 0; bit < r.prefix_bits; ++bit) {
          int mask = 0x80 >> (bit % 8);
          if ((addr[bit / 8] & mask) != (r.addr[bit / 8] & mask)) return false;
        }
        return true;
      }
      return r.host == host && (r.port == 0 || r.port == port);
    });
    if (!allowed) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ": ", Excerpt(host), port != 0 ? absl::StrCat(":", port) : "",
          " is not among this host's allowed sink destinations (--sink-allowed-hosts)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace esdb
