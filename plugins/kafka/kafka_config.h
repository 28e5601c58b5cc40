// kafka-sink: its settings table and the parsed configuration of one instance. Pure: no I/O.
#ifndef ESDB_PLUGINS_KAFKA_KAFKA_CONFIG_H_
#define ESDB_PLUGINS_KAFKA_KAFKA_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "esdb/sink.h"

namespace esdb_kafka_sink {

extern const esdb_sink_setting* const kSettings[];
extern const size_t kSettingsCount;

enum class KeySource { kStream, kHeader, kNone };

struct KafkaConfig {
  std::string bootstrap_servers;
  std::string topic;
  KeySource key_source = KeySource::kStream;
  std::string key_header;  // for kHeader: the name of the header whose value is the key
  std::vector<std::pair<std::string, std::string>> default_headers;
  bool metadata_headers = true;  // the event's metadata fields become headers
  bool wait_for_broker_ack = true;
  std::string compression = "none";
  int64_t delivery_timeout_ms = 30000;
  // librdkafka properties given through producerConfig:<property> (only allow-listed ones),
  // applied after the sink's own.
  std::vector<std::pair<std::string, std::string>> producer_config;
};

// Parses the settings the host hands over (types checked, defaults applied; host keys ignored).
// Returns "" and fills `config`, or the reason, starting with the key at fault.
std::string ParseConfig(const esdb_sink_kv* settings, size_t count, KafkaConfig& config);

// The librdkafka producer properties for `config`, in the order they are to be set.
std::vector<std::pair<std::string, std::string>> ProducerProperties(const KafkaConfig& config);

// Properties set after ProducerProperties as a second line of defence. A librdkafka built
// without the feature they belong to refuses them; that refusal is to be ignored.
std::vector<std::pair<std::string, std::string>> HardeningProperties();

}  // namespace esdb_kafka_sink

#endif  // ESDB_PLUGINS_KAFKA_KAFKA_CONFIG_H_
