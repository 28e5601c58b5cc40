#include "sidecar/connection_string.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace esdb::sidecar {
namespace {

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("connection string: ", what));
}

// %XX escapes in credentials.
absl::StatusOr<std::string> Unescape(absl::string_view in, const char* what) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int v = 0;
    if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) ||
        !absl::ascii_isxdigit(in[i + 2]) ||
        !absl::SimpleHexAtoi(std::string(in.substr(i + 1, 2)), &v)) {
      return Bad(absl::StrCat("bad %-escape in the ", what));
    }
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

// Host names (RFC 1123 letters, digits, '-', '.'; '_' as resolvers allow it) and IPv4 literals.
bool IsHostName(absl::string_view host) {
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

// An IPv6 literal as written between brackets (it has colons), with an optional %zone.
bool IsIpv6Literal(absl::string_view host) {
  const size_t zone = host.find('%');
  const absl::string_view address = host.substr(0, zone);
  if (address.find(':') == absl::string_view::npos) return false;
  for (char c : address) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return zone == absl::string_view::npos ||
         (zone + 1 < host.size() && IsHostName(host.substr(zone + 1)));
}

// `text` with every byte outside RFC 3986's unreserved set as %XX, so that Unescape() gives it
// back and nothing in it can end the user-info part or a log line.
std::string Escape(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

absl::StatusOr<Endpoint> ParseHost(absl::string_view text) {
  Endpoint e;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {  // [::1]:2113
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return Bad(absl::StrCat("unclosed '[' in host '", std::string(text), "'"));
    e.host = std::string(text.substr(1, close - 1));
    absl::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Bad(absl::StrCat("bad host '", std::string(text), "'"));
      port = rest.substr(1);
    }
  } else {
    size_t colon = text.rfind(':');
    e.host = std::string(text.substr(0, colon));
    if (colon != absl::string_view::npos) port = text.substr(colon + 1);
    if (colon != absl::string_view::npos && e.host.find(':') != std::string::npos) {
      return Bad(absl::StrCat("IPv6 addresses must be in brackets: '", std::string(text), "'"));
    }
  }
  if (e.host.empty()) return Bad(absl::StrCat("empty host in '", std::string(text), "'"));
  if (absl::StartsWith(text, "[") ? !IsIpv6Literal(e.host) : !IsHostName(e.host)) {
    return Bad(absl::StrCat("'", std::string(text), "' is not a host name or IP address"));
  }
  if (text.find(':') != absl::string_view::npos && port.empty() && !absl::StartsWith(text, "[")) {
    return Bad(absl::StrCat("missing port after ':' in '", std::string(text), "'"));
  }
  if (!port.empty()) {
    int p = 0;
    if (!absl::SimpleAtoi(port, &p) || p < 1 || p > 65535) {
      return Bad(absl::StrCat("bad port '", std::string(port), "' (1 to 65535)"));
    }
    e.port = static_cast<uint16_t>(p);
  }
  return e;
}

absl::StatusOr<bool> ParseBool(const std::string& key, const std::string& value) {
  std::string v = absl::AsciiStrToLower(value);
  if (v == "true") return true;
  if (v == "false") return false;
  return Bad(absl::StrCat(key, "=", value, ": expected true or false"));
}

absl::StatusOr<int64_t> ParseMs(const std::string& key, const std::string& value, int64_t min) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < min) {
    return Bad(absl::StrCat(key, "=", value, ": expected a whole number >= ", min));
  }
  return v;
}

}  // namespace

std::string Endpoint::ToString() const {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

absl::StatusOr<ConnectionSettings> ParseConnectionString(const std::string& text) {
  ConnectionSettings s;
  // Parts of the string end up in logs and gRPC metadata; escapes (%0A) remain possible in the
  // credentials, which Redacted() escapes again.
  for (char c : text) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return Bad("control characters are not allowed (escape them as %XX in credentials)");
    }
  }
  size_t sep = text.find("://");
  if (sep == std::string::npos) {
    return Bad("expected scheme://host, e.g. kurrentdb://localhost:2113?tls=false");
  }
  s.scheme = absl::AsciiStrToLower(text.substr(0, sep));
  std::string base = s.scheme;
  if (absl::EndsWith(base, "+discover")) {
    s.discover = true;
    base.resize(base.size() - 9);
  }
  if (base != "esdb" && base != "kurrentdb" && base != "kurrent" && base != "kdb") {
    return Bad(absl::StrCat("unknown scheme '", s.scheme,
                            "' (esdb, kurrentdb, kurrent or kdb, optionally +discover)"));
  }
  absl::string_view rest = absl::string_view(text).substr(sep + 3);
  absl::string_view query;
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
  if (rest.find('/') != absl::string_view::npos) return Bad("unexpected path after the hosts");
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view user_info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = user_info.find(':');
    if (colon == absl::string_view::npos) return Bad("credentials must be user:password@");
    auto user = Unescape(user_info.substr(0, colon), "user name");
    auto pass = Unescape(user_info.substr(colon + 1), "password");
    if (!user.ok()) return user.status();
    if (!pass.ok()) return pass.status();
    if (user->empty()) return Bad("empty user name before '@'");
    s.username = *user;
    s.password = *pass;
  }
  if (rest.empty()) return Bad("no host given");
  for (absl::string_view h : absl::StrSplit(rest, ',')) {
    auto e = ParseHost(h);
    if (!e.ok()) return e.status();
    s.hosts.push_back(*e);
  }
  if (s.hosts.size() > 1) s.discover = true;

  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::vector<std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.size() != 2 || p[0].empty()) {
      return Bad(absl::StrCat("query part '", std::string(kv), "' is not key=value"));
    }
    std::string key = absl::AsciiStrToLower(p[0]);
    const std::string& value = p[1];
    absl::Status st;
    auto set_ms = [&](int64_t& field, int64_t min) {
      auto v = ParseMs(p[0], value, min);
      if (v.ok()) field = *v;
      st = v.status();
    };
    auto set_bool = [&](bool& field) {
      auto v = ParseBool(p[0], value);
      if (v.ok()) field = *v;
      st = v.status();
    };
    if (key == "tls") {
      set_bool(s.tls);
    } else if (key == "tlsverifycert") {
      set_bool(s.tls_verify_cert);
    } else if (key == "tlscafile") {
      s.tls_ca_file = value;
    } else if (key == "nodepreference") {
      std::string v = absl::AsciiStrToLower(value);
      if (v == "leader") s.node_preference = NodePreference::kLeader;
      else if (v == "follower") s.node_preference = NodePreference::kFollower;
      else if (v == "readonlyreplica") s.node_preference = NodePreference::kReadOnlyReplica;
      else if (v == "random") s.node_preference = NodePreference::kRandom;
      else st = Bad(absl::StrCat("nodePreference=", value, ": expected leader, follower, readOnlyReplica or random"));
    } else if (key == "connectionname") {
      s.connection_name = value;
    } else if (key == "defaultdeadline") {
      set_ms(s.default_deadline_ms, 1);
    } else if (key == "keepaliveinterval") {
      set_ms(s.keep_alive_interval_ms, -1);
    } else if (key == "keepalivetimeout") {
      set_ms(s.keep_alive_timeout_ms, -1);
    } else if (key == "discoveryinterval") {
      set_ms(s.discovery_interval_ms, 0);
    } else if (key == "gossiptimeout") {
      set_ms(s.gossip_timeout_ms, 1);
    } else if (key == "maxdiscoverattempts") {
      set_ms(s.max_discover_attempts, 1);
    } else {
      st = Bad(absl::StrCat(
          "unknown setting '", p[0],
          "' (known: tls, tlsVerifyCert, tlsCAFile, nodePreference, connectionName, "
          "defaultDeadline, keepAliveInterval, keepAliveTimeout, discoveryInterval, "
          "gossipTimeout, maxDiscoverAttempts)"));
    }
    if (!st.ok()) return st;
  }
  return s;
}

std::string Redacted(const ConnectionSettings& s) {
  std::vector<std::string> hosts;
  for (const Endpoint& e : s.hosts) hosts.push_back(e.ToString());
  std::string creds = s.has_credentials() ? absl::StrCat(Escape(s.username), ":***@") : "";
  return absl::StrCat(s.scheme, "://", creds, absl::StrJoin(hosts, ","), "?tls=",
                      s.tls ? "true" : "false");
}

}  // namespace esdb::sidecar
