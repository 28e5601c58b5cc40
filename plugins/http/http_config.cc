#include "http_config.h"

#include <charconv>
#include <cstring>
#include <string_view>

#include "json_line.h"  // the file-sink's base64

namespace esdb_http_sink {
namespace {

constexpr char kHeaderPrefix[] = "defaultHeaders:";

const esdb_sink_setting kUrl = {
    sizeof(esdb_sink_setting),
    "url",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    1,
    0,
    "Where records are sent: http:// or https:// URL; {stream} and {event-type} in its path or "
    "query are replaced by the record's values, percent-encoded.",
    nullptr,
    ESDB_SINK_TARGET_NETWORK};
const esdb_sink_setting kMethod = {
    sizeof(esdb_sink_setting),       "method",         ESDB_SINK_SETTING_ENUM, "POST", 0, 0,
    "HTTP method of every request.", "POST|PUT|PATCH", ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kDefaultHeaders = {
    sizeof(esdb_sink_setting),
    kHeaderPrefix,
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "defaultHeaders:<Name> adds the header <Name> with this value to every request.",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kAuthMethod = {sizeof(esdb_sink_setting),
                                       "authentication:method",
                                       ESDB_SINK_SETTING_ENUM,
                                       "none",
                                       0,
                                       0,
                                       "How requests authenticate: none, basic or bearer.",
                                       "none|basic|bearer",
                                       ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kBasicUser = {sizeof(esdb_sink_setting),
                                      "authentication:basic:username",
                                      ESDB_SINK_SETTING_STRING,
                                      nullptr,
                                      0,
                                      0,
                                      "User name for basic authentication.",
                                      nullptr,
                                      ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kBasicPassword = {sizeof(esdb_sink_setting),
                                          "authentication:basic:password",
                                          ESDB_SINK_SETTING_STRING,
                                          nullptr,
                                          0,
                                          1,
                                          "Password for basic authentication.",
                                          nullptr,
                                          ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kBearerToken = {sizeof(esdb_sink_setting),
                                        "authentication:bearer:token",
                                        ESDB_SINK_SETTING_STRING,
                                        nullptr,
                                        0,
                                        1,
                                        "Token sent as 'Authorization: Bearer <token>'.",
                                        nullptr,
                                        ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kTimeout = {
    sizeof(esdb_sink_setting),
    "requestTimeoutMs",
    ESDB_SINK_SETTING_INT,
    "30000",
    0,
    0,
    "Longest time one request may take, connecting included; past it the batch is retried.",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kVerifyTls = {sizeof(esdb_sink_setting),
                                      "tls:verifyCertificate",
                                      ESDB_SINK_SETTING_BOOL,
                                      "true",
                                      0,
                                      0,
                                      "Check the https server's certificate chain and host name.",
                                      nullptr,
                                      ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kCaFile = {
    sizeof(esdb_sink_setting),
    "tls:caFile",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "PEM file of the certificate authorities to trust instead of the system's.",
    nullptr,
    ESDB_SINK_TARGET_FILE};

// RFC 9110 token characters, for header names.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// Bytes below 0x20 (tab included) and DEL. No value of this sink needs one, and in a header,
// a URL or a file name they only serve to smuggle something in.
bool HasControl(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// The keys this sink reads; anything else handed over belongs to the host.
bool IsOwnKey(std::string_view key) {
  for (size_t i = 0; i < kSettingsCount; ++i) {
    std::string_view name = kSettings[i]->name;
    if (key == name || (name.back() == ':' && key.substr(0, name.size()) == name)) return true;
  }
  return false;
}

bool ParseInt(std::string_view text, int64_t& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

const esdb_sink_setting* const kSettings[] = {
    &kUrl,           &kMethod,      &kDefaultHeaders, &kAuthMethod, &kBasicUser,
    &kBasicPassword, &kBearerToken, &kTimeout,        &kVerifyTls,  &kCaFile};
const size_t kSettingsCount = sizeof(kSettings) / sizeof(kSettings[0]);

std::string ParseConfig(const esdb_sink_kv* settings, size_t count, HttpConfig& config) {
  config = HttpConfig();
  std::string auth_method = "none", user, password, token;
  bool has_user = false, has_password = false, has_token = false;
  bool has_url = false;
  for (size_t i = 0; i < count; ++i) {
    std::string_view key = settings[i].key;
    std::string_view value = settings[i].value;
    if (IsOwnKey(key) && HasControl(value)) {
      return std::string(key) + ": the value contains a control character";
    }
    if (key == "url") {
      has_url = true;
      if (std::string why = ParseUrlTemplate(value, config.url); !why.empty()) {
        return "url: " + why;
      }
    } else if (key == "method") {
      config.method = std::string(value);
    } else if (key.substr(0, sizeof(kHeaderPrefix) - 1) == kHeaderPrefix) {
      std::string_view name = key.substr(sizeof(kHeaderPrefix) - 1);
      // The host passes no such key (its table's family needs a name); its callers might.
      if (name.empty()) return std::string(key) + ": no header name after the prefix";
      for (unsigned char c : name) {
        if (!IsTokenChar(c)) {
          return std::string(key) + ": '" + std::string(name) + "' is not a valid header name";
        }
      }
      config.default_headers.emplace_back(std::string(name), std::string(value));
    } else if (key == "authentication:method") {
      auth_method = std::string(value);
    } else if (key == "authentication:basic:username") {
      has_user = true;
      user = std::string(value);
    } else if (key == "authentication:basic:password") {
      has_password = true;
      password = std::string(value);
    } else if (key == "authentication:bearer:token") {
      has_token = true;
      token = std::string(value);
    } else if (key == "requestTimeoutMs") {
      if (!ParseInt(value, config.request_timeout_ms) || config.request_timeout_ms < 1 ||
          config.request_timeout_ms > 3600000) {
        return "requestTimeoutMs: must be from 1 to 3600000 (one hour)";
      }
    } else if (key == "tls:verifyCertificate") {
      config.verify_tls = value != "false";
    } else if (key == "tls:caFile") {
      config.ca_file = std::string(value);
    }
  }
  if (!has_url) return "url: required";
  if (auth_method == "basic") {
    config.auth = Auth::kBasic;
    if (!has_user || user.empty()) {
      return "authentication:basic:username: required when authentication:method is basic";
    }
    if (user.find(':') != std::string::npos) {
      return "authentication:basic:username: must not contain ':'";
    }
    if (!has_password) {
      return "authentication:basic:password: required when authentication:method is basic";
    }
    std::string credentials = user + ":" + password;
    config.authorization = "Basic ";
    esdb_file_sink::AppendBase64Text(reinterpret_cast<const uint8_t*>(credentials.data()),
                                     credentials.size(), config.authorization);
  } else if (auth_method == "bearer") {
    config.auth = Auth::kBearer;
    if (!has_token || token.empty()) {
      return "authentication:bearer:token: required when authentication:method is bearer";
    }
    config.authorization = "Bearer " + token;
  } else if (has_user || has_password || has_token) {
    return "authentication:method: is 'none' but authentication credentials are set; set the "
           "method to basic or bearer, or remove them";
  }
  if (!config.url.tls && !config.ca_file.empty()) {
    return "tls:caFile: set, but the url is not https";
  }
  return "";
}

}  // namespace esdb_http_sink
