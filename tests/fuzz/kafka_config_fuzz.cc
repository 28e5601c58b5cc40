// kafka-sink (plugins/kafka): a connector's settings through the plugin's config parser and then
// into a real librdkafka configuration, as `validate` and `open` build it.
//
// Input: lines "key=value" (see SettingLines).
//
// Properties:
//  - ParseConfig never crashes, and a refusal starts with the key it is about ("<key>: ");
//  - whatever it accepts and librdkafka takes (every property the sink sets, in its order, then
//    the hardening ones: the configuration a producer would be made of) has no way out of the
//    producer: no plugin or interceptor library, no OpenSSL engine or provider, no file read on
//    the node (no *.location), no Kerberos (the mechanism is never GSSAPI, and the kinit
//    command cannot run), no debug flood. This is read back from librdkafka itself
//    (rd_kafka_conf_get), so it also holds against property aliases the allow-list might not
//    know.
#include <strings.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "esdb/sink.h"
#include "fuzz/fuzz_check.h"
#include "kafka/kafka_config.h"
#include "librdkafka/rdkafka.h"

namespace {

using esdb_kafka_sink::KafkaConfig;

// The property's value as librdkafka holds it; "" when unset or unknown to this librdkafka.
std::string Get(const rd_kafka_conf_t* conf, const char* name) {
  char value[4096];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) return "";
  return std::string(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string, std::string>> settings =
      esdb::fuzz::SettingLines(esdb::fuzz::AsText(data, size));
  std::vector<esdb_sink_kv> kv;
  for (const auto& [key, value] : settings) kv.push_back({key.c_str(), value.c_str()});

  KafkaConfig config;
  std::string why = esdb_kafka_sink::ParseConfig(kv.data(), kv.size(), config);
  if (!why.empty()) {
    size_t colon = why.find(": ");
    FUZZ_CHECK(colon != std::string::npos && colon > 0, "%s", why.c_str());
    return 0;
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  bool all_set = true;
  for (const auto& [name, value] : esdb_kafka_sink::ProducerProperties(config)) {
    // A value librdkafka refuses is validate's refusal; the properties before it stay set.
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      all_set = false;
      break;
    }
  }
  if (!all_set) {  // validate refuses it, and open makes no producer of it
    rd_kafka_conf_destroy(conf);
    return 0;
  }
  for (const auto& [name, value] : esdb_kafka_sink::HardeningProperties()) {
    rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err));
  }
  // The reading back works (bootstrapServers is required; librdkafka trims the spaces around it).
  const std::string servers = Get(conf, "bootstrap.servers");
  FUZZ_CHECK(config.bootstrap_servers.find(servers) != std::string::npos, "%s", servers.c_str());
  FUZZ_CHECK(!servers.empty() ||
                 config.bootstrap_servers.find_first_not_of(" \t") == std::string::npos,
             "%s read back as nothing", config.bootstrap_servers.c_str());
  for (const char* empty :
       {"plugin.library.paths", "ssl.engine.location", "ssl.providers", "ssl.key.location",
        "ssl.certificate.location", "ssl.ca.location", "ssl.crl.location", "ssl.keystore.location",
        "sasl.kerberos.keytab", "debug"}) {
    std::string value = Get(conf, empty);
    FUZZ_CHECK(value.empty(), "%s=%s", empty, value.c_str());
  }
  std::string mechanism = Get(conf, "sasl.mechanisms");
  FUZZ_CHECK(strcasecmp(mechanism.c_str(), "GSSAPI") != 0 ||
                 Get(conf, "security.protocol").rfind("sasl", 0) != 0,
             "GSSAPI over %s", Get(conf, "security.protocol").c_str());
  std::string relogin = Get(conf, "sasl.kerberos.min.time.before.relogin");
  FUZZ_CHECK(relogin.empty() || relogin == "0", "kinit every %s ms", relogin.c_str());
  rd_kafka_conf_destroy(conf);
  return 0;
}
