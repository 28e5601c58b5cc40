#include "url_template.h"

#include <charconv>

namespace esdb_http_sink {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string UrlTemplate::Expand(std::string_view stream, std::string_view event_type) const {
  std::string target = parts[0];
  for (size_t i = 0; i < placeholders.size(); ++i) {
    target += PercentEncode(placeholders[i] == Placeholder::kStream ? stream : event_type);
    target += parts[i + 1];
  }
  return target;
}

std::string ParseUrlTemplate(std::string_view url, UrlTemplate& out) {
  out = UrlTemplate();
  for (unsigned char c : url) {
    // Sent as they are on the request line and in Host, where only ASCII may stand.
    if (c <= 0x20 || c >= 0x7f) {
      return "the URL contains a space, a control character or a byte beyond ASCII "
             "(percent-encode it)";
    }
  }
  std::string_view rest;
  if (StartsWith(url, "http://")) {
    rest = url.substr(7);
  } else if (StartsWith(url, "https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    return "the URL must start with http:// or https://";
  }
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.empty()) return "the URL has no host";
  if (authority.find('@') != std::string_view::npos) {
    return "the URL must not carry user info; use authentication:basic:* instead";
  }
  if (authority.find_first_of("{}") != std::string_view::npos) {
    return "placeholders are allowed only in the path and query, not in the host";
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "the URL has an unterminated IPv6 address";
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "unexpected text after the IPv6 address";
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return "the URL has no host";
  out.host = std::string(host);
  out.authority = std::string(authority);
  out.port = out.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return "the URL's port '" + std::string(port) + "' is not a number from 1 to 65535";
    }
    out.port = static_cast<uint16_t>(value);
  } else if (authority.back() == ':') {
    out.authority.pop_back();
  }
  if (target.find('#') != std::string_view::npos) return "the URL must not have a fragment";
  std::string path =
      target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  out.parts.emplace_back();
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '{') {
      size_t close = path.find('}', i);
      std::string_view name = close == std::string::npos
                                  ? std::string_view()
                                  : std::string_view(path).substr(i + 1, close - i - 1);
      if (name == "stream") {
        out.placeholders.push_back(UrlTemplate::Placeholder::kStream);
      } else if (name == "event-type") {
        out.placeholders.push_back(UrlTemplate::Placeholder::kEventType);
      } else {
        return "unknown placeholder at '" + path.substr(i) +
               "' (the URL may contain {stream} and {event-type})";
      }
      out.parts.emplace_back();
      i = close + 1;
    } else if (path[i] == '}') {
      return "unmatched '}' in the URL";
    } else {
      out.parts.back().push_back(path[i++]);
    }
  }
  return "";
}

}  // namespace esdb_http_sink
