#include "kafka_config.h"

#include <charconv>
#include <string_view>

namespace esdb_kafka_sink {
namespace {

constexpr std::string_view kHeaderPrefix = "defaultHeaders:";
constexpr std::string_view kProducerPrefix = "producerConfig:";

const esdb_sink_setting kBootstrap = {
    sizeof(esdb_sink_setting),
    "bootstrapServers",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    1,
    0,
    "Comma-separated host:port list of Kafka brokers to start from.",
    nullptr, ESDB_SINK_TARGET_NETWORK};
const esdb_sink_setting kTopic = {sizeof(esdb_sink_setting),
                                  "topic",
                                  ESDB_SINK_SETTING_STRING,
                                  nullptr,
                                  1,
                                  0,
                                  "Topic every record is produced to.",
                                  nullptr,
                                  ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kKeySource = {
    sizeof(esdb_sink_setting),
    "key:source",
    ESDB_SINK_SETTING_ENUM,
    "stream",
    0,
    0,
    "Message key: the stream id (so a stream stays in one partition and in order), the value of "
    "the header named by key:header, or none.",
    "stream|header|none",
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kKeyHeader = {
    sizeof(esdb_sink_setting),
    "key:header",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "With key:source=header: the header (e.g. a metadata field or esdb-event-type) whose value "
    "is the key; records without it get no key.",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kDefaultHeaders = {
    sizeof(esdb_sink_setting),
    "defaultHeaders:",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "defaultHeaders:<Name> adds the header <Name> with this value to every message.",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kMetadataHeaders = {
    sizeof(esdb_sink_setting),
    "metadataHeaders",
    ESDB_SINK_SETTING_BOOL,
    "true",
    0,
    0,
    "Turn each top-level field of the event's JSON metadata into a header.",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kWaitForAck = {
    sizeof(esdb_sink_setting),
    "waitForBrokerAck",
    ESDB_SINK_SETTING_BOOL,
    "true",
    0,
    0,
    "Wait until all in-sync replicas have the record (acks=all, idempotent producer); false "
    "waits for the partition leader only (acks=1, not idempotent).",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kCompression = {sizeof(esdb_sink_setting),
                                        "compressionType",
                                        ESDB_SINK_SETTING_ENUM,
                                        "none",
                                        0,
                                        0,
                                        "Compression of produced batches.",
                                        "none|gzip|snappy|lz4|zstd",
                                        ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kDeliveryTimeout = {
    sizeof(esdb_sink_setting),
    "deliveryTimeoutMs",
    ESDB_SINK_SETTING_INT,
    "30000",
    0,
    0,
    "Longest time a batch may take to be acknowledged (librdkafka message.timeout.ms); past "
    "it the batch is retried.",
    nullptr,
    ESDB_SINK_TARGET_NONE};
const esdb_sink_setting kProducerConfig = {
    sizeof(esdb_sink_setting),
    "producerConfig:",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    1,
    "producerConfig:<property> sets a librdkafka producer property (e.g. security.protocol, "
    "sasl.username); values are treated as secrets.",
    nullptr,
    ESDB_SINK_TARGET_NONE};

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Bytes below 0x20 and DEL. `allow_line_breaks` lets CR, LF and tab through, for PEM text.
bool HasControl(std::string_view text, bool allow_line_breaks = false) {
  for (unsigned char c : text) {
    if (allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Properties the sink sets itself and a producerConfig: entry must not override, because the
// sink's guarantees (order, delivery reports, bounded writes) depend on them.
bool IsOwnedProperty(std::string_view name) {
  for (std::string_view owned :
       {"bootstrap.servers", "metadata.broker.list", "acks", "request.required.acks",
        "enable.idempotence", "max.in.flight", "max.in.flight.requests.per.connection",
        "message.timeout.ms", "delivery.timeout.ms", "compression.type", "compression.codec",
        "dr_cb", "dr_msg_cb", "retries", "message.send.max.retries"}) {
    if (name == owned) return true;
  }
  return false;
}

// The librdkafka producer properties producerConfig: may set. Each was checked against
// librdkafka's CONFIGURATION.md: none of them runs a command, loads a library, reads or writes a
// file, or changes what the sink relies on (one delivery report per message, order within a
// partition). Everything else is refused, so a property added by a future librdkafka is refused
// until someone has looked at it. `values`, when not empty, is the '|'-separated list of values
// the property may take (compared ignoring case, as librdkafka compares its enumerations).
struct AllowedProperty {
  std::string_view name;
  std::string_view values;
};

constexpr AllowedProperty kAllowedProperties[] = {
    // Identity and limits.
    {"client.id", ""},
    {"message.max.bytes", ""},
    {"message.copy.max.bytes", ""},
    {"receive.message.max.bytes", ""},
    // Metadata refresh.
    {"topic.metadata.refresh.interval.ms", ""},
    {"metadata.max.age.ms", ""},
    {"topic.metadata.refresh.fast.interval.ms", ""},
    {"topic.metadata.refresh.sparse", ""},
    {"topic.metadata.propagation.max.ms", ""},
    // Sockets and reconnection.
    {"socket.timeout.ms", ""},
    {"socket.send.buffer.bytes", ""},
    {"socket.receive.buffer.bytes", ""},
    {"socket.keepalive.enable", ""},
    {"socket.nagle.disable", ""},
    {"socket.max.fails", ""},
    {"socket.connection.setup.timeout.ms", ""},
    {"connections.max.idle.ms", ""},
    {"broker.address.ttl", ""},
    {"broker.address.family", ""},
    {"reconnect.backoff.ms", ""},
    {"reconnect.backoff.max.ms", ""},
    // Old brokers.
    {"api.version.request", ""},
    {"api.version.request.timeout.ms", ""},
    {"api.version.fallback.ms", ""},
    {"broker.version.fallback", ""},
    // librdkafka's own log lines (they go to the node's log through the host).
    {"log_level", ""},
    {"log.connection.close", ""},
    // Batching and buffering.
    {"queue.buffering.max.messages", ""},
    {"queue.buffering.max.kbytes", ""},
    {"queue.buffering.max.ms", ""},
    {"linger.ms", ""},
    {"retry.backoff.ms", ""},
    {"queue.buffering.backpressure.threshold", ""},
    {"batch.num.messages", ""},
    {"batch.size", ""},
    {"sticky.partitioning.linger.ms", ""},
    {"request.timeout.ms", ""},
    {"compression.level", ""},
    // "random" is left out: it would spread one stream over partitions and lose its order.
    {"partitioner", "consistent|consistent_random|murmur2|murmur2_random|fnv1a|fnv1a_random"},
    // Security. GSSAPI is left out: librdkafka runs a kinit shell command for it.
    {"security.protocol", "plaintext|ssl|sasl_plaintext|sasl_ssl"},
    {"sasl.mechanism", "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER"},
    {"sasl.mechanisms", "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER"},
    {"sasl.username", ""},
    {"sasl.password", ""},
    // OAUTHBEARER only through OIDC: the token comes from an https endpoint (a network
    // destination, like bootstrapServers); the other method needs an application callback.
    {"sasl.oauthbearer.method", "oidc"},
    {"sasl.oauthbearer.client.id", ""},
    {"sasl.oauthbearer.client.secret", ""},
    {"sasl.oauthbearer.scope", ""},
    {"sasl.oauthbearer.extensions", ""},
    {"sasl.oauthbearer.token.endpoint.url", ""},
    // TLS material inline (PEM text), never from files.
    {"ssl.key.pem", ""},
    {"ssl.key.password", ""},
    {"ssl.certificate.pem", ""},
    {"ssl.ca.pem", ""},
    {"ssl.cipher.suites", ""},
    {"ssl.curves.list", ""},
    {"ssl.sigalgs.list", ""},
    {"enable.ssl.certificate.verification", ""},
    {"ssl.endpoint.identification.algorithm", ""},
};

const AllowedProperty* FindAllowed(std::string_view name) {
  for (const AllowedProperty& p : kAllowedProperties) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

bool IsOneOf(std::string_view value, std::string_view choices) {
  while (!choices.empty()) {
    size_t bar = choices.find('|');
    if (EqualsIgnoringCase(value, choices.substr(0, bar))) return true;
    if (bar == std::string_view::npos) break;
    choices.remove_prefix(bar + 1);
  }
  return false;
}

bool IsPem(std::string_view property) {
  return property.size() > 4 && property.substr(property.size() - 4) == ".pem";
}

// PEM text with each two-character "\n" (or "\r\n") turned into a line break. A host that
// refuses control characters in every setting value (this library's does) leaves no other way
// to give multi-line text; base64 and the PEM armour hold no backslash, so nothing else changes.
std::string UnescapePem(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() && (value[i + 1] == 'n' || value[i + 1] == 'r')) {
      if (value[i + 1] == 'n') out.push_back('\n');
      ++i;  // "\r" is dropped: librdkafka reads LF line ends
      continue;
    }
    out.push_back(value[i]);
  }
  return out;
}

// Why a well-known property is refused, for the error message; "" for the rest.
std::string_view RefusalReason(std::string_view property) {
  if (StartsWith(property, "sasl.kerberos.")) {
    return "Kerberos (GSSAPI) makes librdkafka run a kinit shell command";
  }
  if (property == "plugin.library.paths" || property == "interceptors") {
    return "it loads code into the node";
  }
  if (StartsWith(property, "ssl.engine.") || property == "ssl.providers") {
    return "it loads an OpenSSL engine or provider library";
  }
  if (property.size() > 9 && property.substr(property.size() - 9) == ".location") {
    return "it reads a file on the node (give TLS material inline with the .pem properties)";
  }
  if (property == "debug") return "it floods the node's log";
  return "";
}

// The producerConfig:<property> rule: "" or why the entry is refused, starting with the key.
std::string CheckProducerProperty(std::string_view key, std::string_view property,
                                  std::string_view value) {
  if (IsOwnedProperty(property)) {
    return std::string(key) + ": the sink sets '" + std::string(property) +
           "' itself; use its own setting instead";
  }
  const AllowedProperty* allowed = FindAllowed(property);
  if (allowed == nullptr) {
    std::string why = std::string(key) + ": '" + std::string(property) + "' is not allowed";
    if (std::string_view reason = RefusalReason(property); !reason.empty()) {
      why += " (" + std::string(reason) + ")";
    }
    return why +
           "; producerConfig: takes only the librdkafka properties on the sink's "
           "allow-list (see plugins/kafka/README.md)";
  }
  if (HasControl(value, IsPem(property))) {
    return std::string(key) + ": the value contains a control character";
  }
  if (!allowed->values.empty() && !IsOneOf(value, allowed->values)) {
    std::string choices(allowed->values);
    for (char& c : choices) c = c == '|' ? ',' : c;
    return std::string(key) + ": '" + std::string(value) + "' is not allowed; use one of " +
           choices;
  }
  if (property == "sasl.oauthbearer.token.endpoint.url" &&
      !EqualsIgnoringCase(value.substr(0, 8), "https://")) {
    return std::string(key) + ": must be an https:// URL";
  }
  return "";
}

// Kafka's rule for topic names: 1 to 249 of [A-Za-z0-9._-], and not "." or "..".
bool IsValidTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") return false;
  for (char c : topic) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const esdb_sink_setting* const kSettings[] = {
    &kBootstrap,       &kTopic,      &kKeySource,   &kKeyHeader,       &kDefaultHeaders,
    &kMetadataHeaders, &kWaitForAck, &kCompression, &kDeliveryTimeout, &kProducerConfig};
const size_t kSettingsCount = sizeof(kSettings) / sizeof(kSettings[0]);

std::string ParseConfig(const esdb_sink_kv* settings, size_t count, KafkaConfig& config) {
  config = KafkaConfig();
  std::string protocol = "plaintext", mechanism, oauth_method;
  bool has_token_url = false;
  for (size_t i = 0; i < count; ++i) {
    std::string_view key = settings[i].key;
    std::string_view value = settings[i].value;
    if (key == "bootstrapServers") {
      if (HasControl(value)) return "bootstrapServers: the value contains a control character";
      config.bootstrap_servers = std::string(value);
    } else if (key == "topic") {
      config.topic = std::string(value);
      if (!value.empty() && !IsValidTopic(value)) {
        return "topic: '" + std::string(value) +
               "' is not a Kafka topic name (1 to 249 of letters, digits, '.', '_', '-')";
      }
    } else if (key == "key:source") {
      config.key_source = value == "header" ? KeySource::kHeader
                          : value == "none" ? KeySource::kNone
                                            : KeySource::kStream;
    } else if (key == "key:header") {
      if (HasControl(value)) return "key:header: the value contains a control character";
      config.key_header = std::string(value);
    } else if (StartsWith(key, kHeaderPrefix)) {
      std::string_view name = key.substr(kHeaderPrefix.size());
      if (name.empty() || HasControl(name)) {
        return std::string(key) + ": the header name is empty or contains a control character";
      }
      if (HasControl(value)) {
        return std::string(key) + ": the value contains a control character";
      }
      config.default_headers.emplace_back(std::string(name), std::string(value));
    } else if (key == "metadataHeaders") {
      config.metadata_headers = value != "false";
    } else if (key == "waitForBrokerAck") {
      config.wait_for_broker_ack = value != "false";
    } else if (key == "compressionType") {
      config.compression = std::string(value);
    } else if (key == "deliveryTimeoutMs") {
      auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), config.delivery_timeout_ms);
      if (ec != std::errc() || end != value.data() + value.size() ||
          config.delivery_timeout_ms < 100 || config.delivery_timeout_ms > 3600000) {
        return "deliveryTimeoutMs: must be from 100 to 3600000 (one hour)";
      }
    } else if (StartsWith(key, kProducerPrefix)) {
      std::string_view property = key.substr(kProducerPrefix.size());
      if (std::string why = CheckProducerProperty(key, property, value); !why.empty()) {
        return why;
      }
      if (property == "security.protocol") protocol = std::string(value);
      if (property == "sasl.mechanism" || property == "sasl.mechanisms") {
        mechanism = std::string(value);
      }
      if (property == "sasl.oauthbearer.method") oauth_method = std::string(value);
      if (property == "sasl.oauthbearer.token.endpoint.url") has_token_url = true;
      config.producer_config.emplace_back(
          std::string(property), IsPem(property) ? UnescapePem(value) : std::string(value));
    }
  }
  if (config.bootstrap_servers.empty()) return "bootstrapServers: required";
  if (config.topic.empty()) return "topic: required";
  if (config.key_source == KeySource::kHeader && config.key_header.empty()) {
    return "key:header: required when key:source is header";
  }
  // librdkafka's default mechanism is GSSAPI, which would run kinit: SASL needs an explicit one.
  if (EqualsIgnoringCase(protocol.substr(0, 5), "sasl_") && mechanism.empty()) {
    return "producerConfig:sasl.mechanism: required when security.protocol is " + protocol +
           " (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER; GSSAPI is not allowed)";
  }
  if (EqualsIgnoringCase(mechanism, "OAUTHBEARER") && (oauth_method.empty() || !has_token_url)) {
    return "producerConfig:sasl.oauthbearer.method: OAUTHBEARER needs sasl.oauthbearer.method="
           "oidc and sasl.oauthbearer.token.endpoint.url";
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> ProducerProperties(const KafkaConfig& config) {
  std::vector<std::pair<std::string, std::string>> p = {
      {"bootstrap.servers", config.bootstrap_servers},
      {"message.timeout.ms", std::to_string(config.delivery_timeout_ms)},
      {"compression.type", config.compression},
      {"client.id", "esdb-connectors-kafka-sink"},
  };
  if (config.wait_for_broker_ack) {
    // The idempotent producer keeps order across its internal retries (max 5 in flight) and
    // never writes a retried record twice.
    p.emplace_back("enable.idempotence", "true");
    p.emplace_back("acks", "all");
  } else {
    p.emplace_back("acks", "1");
    // Without idempotence only one request in flight keeps retries from reordering records.
    p.emplace_back("max.in.flight.requests.per.connection", "1");
  }
  for (const auto& property : config.producer_config) p.push_back(property);
  return p;
}

std::vector<std::pair<std::string, std::string>> HardeningProperties() {
  // Even if a GSSAPI mechanism slipped past the checks, librdkafka runs no kinit command when
  // the relogin interval is 0.
  return {{"sasl.kerberos.min.time.before.relogin", "0"}};
}

}  // namespace esdb_kafka_sink
