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
    nullptr};
const esdb_sink_setting kTopic = {sizeof(esdb_sink_setting),
                                  "topic",
                                  ESDB_SINK_SETTING_STRING,
                                  nullptr,
                                  1,
                                  0,
                                  "Topic every record is produced to.",
                                  nullptr};
const esdb_sink_setting kKeySource = {
    sizeof(esdb_sink_setting),
    "key:source",
    ESDB_SINK_SETTING_ENUM,
    "stream",
    0,
    0,
    "Message key: the stream id (so a stream stays in one partition and in order), the value of "
    "the header named by key:header, or none.",
    "stream|header|none"};
const esdb_sink_setting kKeyHeader = {
    sizeof(esdb_sink_setting),
    "key:header",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "With key:source=header: the header (e.g. a metadata field or esdb-event-type) whose value "
    "is the key; records without it get no key.",
    nullptr};
const esdb_sink_setting kDefaultHeaders = {
    sizeof(esdb_sink_setting),
    "defaultHeaders:",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    0,
    "defaultHeaders:<Name> adds the header <Name> with this value to every message.",
    nullptr};
const esdb_sink_setting kMetadataHeaders = {
    sizeof(esdb_sink_setting),
    "metadataHeaders",
    ESDB_SINK_SETTING_BOOL,
    "true",
    0,
    0,
    "Turn each top-level field of the event's JSON metadata into a header.",
    nullptr};
const esdb_sink_setting kWaitForAck = {
    sizeof(esdb_sink_setting),
    "waitForBrokerAck",
    ESDB_SINK_SETTING_BOOL,
    "true",
    0,
    0,
    "Wait until all in-sync replicas have the record (acks=all, idempotent producer); false "
    "waits for the partition leader only (acks=1, not idempotent).",
    nullptr};
const esdb_sink_setting kCompression = {sizeof(esdb_sink_setting),
                                        "compressionType",
                                        ESDB_SINK_SETTING_ENUM,
                                        "none",
                                        0,
                                        0,
                                        "Compression of produced batches.",
                                        "none|gzip|snappy|lz4|zstd"};
const esdb_sink_setting kDeliveryTimeout = {
    sizeof(esdb_sink_setting),
    "deliveryTimeoutMs",
    ESDB_SINK_SETTING_INT,
    "30000",
    0,
    0,
    "Longest time a batch may take to be acknowledged (librdkafka message.timeout.ms); past "
    "it the batch is retried.",
    nullptr};
const esdb_sink_setting kProducerConfig = {
    sizeof(esdb_sink_setting),
    "producerConfig:",
    ESDB_SINK_SETTING_STRING,
    nullptr,
    0,
    1,
    "producerConfig:<property> sets a librdkafka producer property (e.g. security.protocol, "
    "sasl.username); values are treated as secrets.",
    nullptr};

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool HasControl(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Properties the sink sets itself and a producerConfig: entry must not override, because the
// sink's guarantees (order, delivery reports, bounded writes) depend on them.
bool IsOwnedProperty(std::string_view name) {
  for (std::string_view owned :
       {"bootstrap.servers", "acks", "request.required.acks", "enable.idempotence", "max.in.flight",
        "max.in.flight.requests.per.connection", "message.timeout.ms", "delivery.timeout.ms",
        "compression.type", "compression.codec", "dr_cb", "dr_msg_cb", "retries",
        "message.send.max.retries"}) {
    if (name == owned) return true;
  }
  return false;
}

}  // namespace

const esdb_sink_setting* const kSettings[] = {
    &kBootstrap,       &kTopic,      &kKeySource,   &kKeyHeader,       &kDefaultHeaders,
    &kMetadataHeaders, &kWaitForAck, &kCompression, &kDeliveryTimeout, &kProducerConfig};
const size_t kSettingsCount = sizeof(kSettings) / sizeof(kSettings[0]);

std::string ParseConfig(const esdb_sink_kv* settings, size_t count, KafkaConfig& config) {
  config = KafkaConfig();
  for (size_t i = 0; i < count; ++i) {
    std::string_view key = settings[i].key;
    std::string_view value = settings[i].value;
    if (key == "bootstrapServers") {
      config.bootstrap_servers = std::string(value);
    } else if (key == "topic") {
      config.topic = std::string(value);
      if (HasControl(value) || value.find(' ') != std::string_view::npos) {
        return "topic: must not contain spaces or control characters";
      }
    } else if (key == "key:source") {
      config.key_source = value == "header" ? KeySource::kHeader
                          : value == "none" ? KeySource::kNone
                                            : KeySource::kStream;
    } else if (key == "key:header") {
      config.key_header = std::string(value);
    } else if (StartsWith(key, kHeaderPrefix)) {
      config.default_headers.emplace_back(std::string(key.substr(kHeaderPrefix.size())),
                                          std::string(value));
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
      if (IsOwnedProperty(property)) {
        return std::string(key) + ": the sink sets '" + std::string(property) +
               "' itself; use its own setting instead";
      }
      config.producer_config.emplace_back(std::string(property), std::string(value));
    }
  }
  if (config.bootstrap_servers.empty()) return "bootstrapServers: required";
  if (config.topic.empty()) return "topic: required";
  if (config.key_source == KeySource::kHeader && config.key_header.empty()) {
    return "key:header: required when key:source is header";
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

}  // namespace esdb_kafka_sink
