// kafka-sink (plugins/kafka) through the loader against librdkafka's mock cluster (real sockets
// on localhost, no external broker): what is produced, consumed back in order, and how broker
// errors injected through the mock API turn into retries without loss or reordering.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/plugin.h"
#include "sinks/test_support.h"

namespace esdb {
namespace {

using ::esdb::testing::LoadOrFail;
using ::esdb::testing::LogCapture;
using ::esdb::testing::MakeRecord;
using ::esdb::testing::PluginPath;
using ::esdb::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// A mock cluster owned by a handle of its own.
class MockCluster {
 public:
  MockCluster(int brokers, const std::string& topic, int partitions) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
    rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, brokers < 3 ? brokers : 3);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  rd_kafka_mock_cluster_t* get() { return cluster_; }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

struct Consumed {
  std::string key;
  bool has_key = false;
  std::string value;
  int32_t partition = 0;
  std::map<std::string, std::string> headers;
  uint64_t position() const { return std::stoull(headers.at("esdb-log-position")); }
};

// Reads every partition of `topic` from the beginning until `count` messages arrived or 30 s.
std::vector<Consumed> ConsumeAll(const std::string& bootstraps, const std::string& topic,
                                 int partitions, size_t count) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[256];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "group.id", "kafka-sink-test", errstr, sizeof(errstr));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  std::vector<Consumed> out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Consumed c;
      c.has_key = m->key != nullptr;
      if (c.has_key) c.key.assign(static_cast<const char*>(m->key), m->key_len);
      c.value.assign(static_cast<const char*>(m->payload), m->len);
      c.partition = m->partition;
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          c.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(c));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return out;
}

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plugin_ = LoadOrFail(PluginPath("kafka"));
    ASSERT_NE(plugin_, nullptr);
  }

  // An instance writing to `cluster`'s topic "events", with batching:maxInFlight `max_in_flight`.
  std::unique_ptr<Sink> Open(MockCluster& cluster, SettingsMap settings = {},
                             int64_t max_in_flight = 1) {
    settings.emplace("bootstrapServers", cluster.bootstraps());
    settings.emplace("topic", "events");
    auto sink = plugin_->Open({.connector_id = "conn-kafka", .max_in_flight = max_in_flight},
                              settings, log_.Fn());
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }

  // Records with positions 1000, 1010, ... over three streams, in log order.
  static std::vector<Record> Log(int n, int first = 0) {
    std::vector<Record> log;
    for (int i = first; i < first + n; ++i) {
      log.push_back(MakeRecord(absl::StrCat("orders-", i % 3), i / 3, 1000 + 10 * i, "Placed",
                               absl::StrCat(R"({"i":)", i, "}")));
    }
    return log;
  }

  static std::vector<uint64_t> Positions(const std::vector<Record>& log) {
    std::vector<uint64_t> positions;
    for (const Record& r : log) positions.push_back(r.position.commit);
    return positions;
  }

  // Writes `log` in batches of `batch`, resending a batch until it is OK (as the host does),
  // at most `attempts` times each. Returns the number of RETRY outcomes seen.
  int WriteLog(Sink& sink, const std::vector<Record>& log, size_t batch, int attempts = 20) {
    int retries = 0;
    for (size_t at = 0; at < log.size(); at += batch) {
      std::span<const Record> part(log.data() + at, std::min(batch, log.size() - at));
      SinkResult r;
      for (int attempt = 0; attempt < attempts; ++attempt) {
        r = sink.Write(part);
        if (r.outcome != SinkOutcome::kRetry) break;
        ++retries;
      }
      EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
      if (r.outcome != SinkOutcome::kOk) break;
    }
    return retries;
  }

  std::unique_ptr<SinkPlugin> plugin_;
  LogCapture log_;
};

TEST_F(KafkaSinkTest, RecordsConsumedBackMatchTheLogInOrder) {
  MockCluster cluster(3, "events", 1);
  auto sink = Open(cluster, {{"defaultHeaders:source", "esdb"}, {"compressionType", "lz4"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(200);
  log[5].metadata = R"({"tenant":"acme","n":3,"esdb-log-position":"forged"})";
  EXPECT_EQ(WriteLog(*sink, log, 40), 0);

  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 1, log.size());
  ASSERT_EQ(got.size(), log.size());
  std::vector<uint64_t> positions;
  for (const Consumed& c : got) positions.push_back(c.position());
  EXPECT_THAT(positions, ElementsAreArray(Positions(log)));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, log[i].stream);
    EXPECT_EQ(got[i].value, log[i].data);
    EXPECT_EQ(got[i].headers.at("esdb-stream"), log[i].stream);
    EXPECT_EQ(got[i].headers.at("esdb-revision"), std::to_string(log[i].revision));
    EXPECT_EQ(got[i].headers.at("esdb-event-id"), log[i].event_id);
    EXPECT_EQ(got[i].headers.at("esdb-event-type"), "Placed");
    EXPECT_EQ(got[i].headers.at("esdb-content-type"), "application/json");
    EXPECT_EQ(got[i].headers.at("esdb-created"), "2024-05-01T12:30:05.000250Z");
    EXPECT_EQ(got[i].headers.at("source"), "esdb");
  }
  EXPECT_EQ(got[5].headers.at("tenant"), "acme");
  EXPECT_EQ(got[5].headers.at("n"), "3");
  EXPECT_EQ(got[5].headers.at("esdb-log-position"), "1050");  // metadata cannot forge it
}

TEST_F(KafkaSinkTest, StreamKeyKeepsEachStreamInOrderAcrossPartitions) {
  MockCluster cluster(3, "events", 4);
  auto sink = Open(cluster);
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(90);
  EXPECT_EQ(WriteLog(*sink, log, 30), 0);
  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 4, log.size());
  ASSERT_EQ(got.size(), log.size());
  std::map<std::string, std::vector<uint64_t>> by_stream;
  std::map<std::string, std::set<int32_t>> partitions;
  for (const Consumed& c : got) {
    by_stream[c.key].push_back(std::stoull(c.headers.at("esdb-revision")));
    partitions[c.key].insert(c.partition);
  }
  ASSERT_EQ(by_stream.size(), 3u);
  for (const auto& [stream, revisions] : by_stream) {
    std::vector<uint64_t> expected(30);
    for (uint64_t i = 0; i < 30; ++i) expected[i] = i;
    EXPECT_EQ(revisions, expected) << stream;
    EXPECT_EQ(partitions[stream].size(), 1u) << stream;
  }
}

TEST_F(KafkaSinkTest, KeyFromAHeaderOrNone) {
  MockCluster cluster(1, "events", 1);
  {
    auto sink = Open(cluster, {{"key:source", "header"}, {"key:header", "tenant"}});
    ASSERT_NE(sink, nullptr);
    std::vector<Record> log = Log(2);
    log[0].metadata = R"({"tenant":"acme"})";
    EXPECT_EQ(WriteLog(*sink, log, 2), 0);
  }
  {
    auto sink = Open(cluster, {{"key:source", "none"}});
    ASSERT_NE(sink, nullptr);
    EXPECT_EQ(WriteLog(*sink, Log(1, 2), 1), 0);
  }
  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 1, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].has_key);
  EXPECT_EQ(got[0].key, "acme");
  EXPECT_FALSE(got[1].has_key);  // no tenant header
  EXPECT_FALSE(got[2].has_key);
}

TEST_F(KafkaSinkTest, InjectedBrokerErrorsAreRetriedWithoutLossOrReordering) {
  MockCluster cluster(3, "events", 1);
  // The errors go on the leader's own stack, whose count shows they were all answered.
  constexpr int32_t kLeader = 1;
  ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster.get(), "events", 0, kLeader),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  auto sink = Open(cluster);
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(300);
  // Retriable produce errors, several per batch: the idempotent producer retries them itself,
  // well within the delivery timeout, so none reaches the host as RETRY.
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                  cluster.get(), kLeader, 0 /* Produce */, 4,
                  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
                  RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0,
                  RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 0,
                  RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, 0),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    size_t third = log.size() / 3;
    std::vector<Record> part(log.begin() + round * third, log.begin() + (round + 1) * third);
    EXPECT_EQ(WriteLog(*sink, part, 25), 0) << "round " << round;
    size_t left = 0;
    ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt(cluster.get(), kLeader, 0 /* Produce */, &left),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(left, 0u) << "round " << round << ": injected errors never hit";
  }
  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 1, log.size());
  std::vector<uint64_t> positions;
  for (const Consumed& c : got) positions.push_back(c.position());
  // Exactly the log: no loss, no reordering, and (idempotence) not even a duplicate.
  EXPECT_THAT(positions, ElementsAreArray(Positions(log)));
}

TEST_F(KafkaSinkTest, UnreachableBrokerTimesOutAsRetryAndResendingLosesNothing) {
  MockCluster cluster(1, "events", 1);
  auto sink = Open(cluster, {{"deliveryTimeoutMs", "1500"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> first = Log(20), second = Log(20, 20);
  EXPECT_EQ(WriteLog(*sink, first, 20), 0);

  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  auto t0 = std::chrono::steady_clock::now();
  SinkResult r = sink->Write(second);
  EXPECT_EQ(r.outcome, SinkOutcome::kRetry);
  EXPECT_THAT(r.message, HasSubstr("_MSG_TIMED_OUT"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));

  rd_kafka_mock_broker_set_up(cluster.get(), 1);
  WriteLog(*sink, second, 20);  // may need a few attempts while the producer reconnects

  std::vector<Record> log = first;
  log.insert(log.end(), second.begin(), second.end());
  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 1, log.size());
  // De-duplicated by position (a timed-out batch may have partly arrived), in log order.
  std::vector<uint64_t> positions;
  for (const Consumed& c : got) {
    if (positions.empty() || c.position() > positions.back()) {
      positions.push_back(c.position());
    } else {
      EXPECT_NE(std::find(positions.begin(), positions.end(), c.position()), positions.end())
          << "position " << c.position() << " arrived out of order, not as a duplicate";
    }
  }
  EXPECT_THAT(positions, ElementsAreArray(Positions(log)));
}

TEST_F(KafkaSinkTest, PermanentBrokerErrorIsFatal) {
  MockCluster cluster(1, "events", 1);
  auto sink = Open(cluster);
  ASSERT_NE(sink, nullptr);
  rd_kafka_mock_push_request_errors(cluster.get(), 0 /* Produce */, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  std::vector<Record> batch = Log(3);
  SinkResult r = sink->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal);
  EXPECT_THAT(r.message, HasSubstr("TOPIC_AUTHORIZATION_FAILED"));
  EXPECT_THAT(r.message, HasSubstr("record at position 1000"));
}

// A record the producer refuses by itself (larger than message.max.bytes) is named to the host:
// those before it were acknowledged, the ones after it never produced.
TEST_F(KafkaSinkTest, ARefusedRecordIsNamedToTheHost) {
  MockCluster cluster(1, "events", 1);
  auto sink = Open(cluster, {{"producerConfig:message.max.bytes", "1000"}});
  ASSERT_NE(sink, nullptr);
  std::vector<Record> batch = Log(4);
  batch[2].data = std::string(4000, 'x');
  SinkResult r = sink->Write(batch);
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal) << r.message;
  EXPECT_THAT(r.message, HasSubstr("MSG_SIZE_TOO_LARGE"));
  EXPECT_EQ(r.failed_index, std::optional<size_t>(2));
  // A later record comes right after the two acknowledged ones: the fourth was never produced.
  std::vector<Record> later = Log(1, 10);
  ASSERT_EQ(sink->Write(later).outcome, SinkOutcome::kOk);
  std::vector<uint64_t> positions;
  for (const Consumed& c : ConsumeAll(cluster.bootstraps(), "events", 1, 3)) {
    positions.push_back(c.position());
  }
  EXPECT_THAT(positions, ElementsAre(batch[0].position.commit, batch[1].position.commit,
                                     later[0].position.commit));
}

TEST_F(KafkaSinkTest, ValidateNamesTheKeyAtFault) {
  struct Case {
    SettingsMap settings;
    std::string needle;
  };
  std::vector<Case> cases = {
      {{{"topic", "t"}}, "bootstrapServers: required"},
      {{{"bootstrapServers", "h:9092"}}, "topic: required"},
      {{{"bootstrapServers", "h:9092"}, {"topic", "t"}, {"key:source", "header"}},
       "key:header: required"},
      {{{"bootstrapServers", "h:9092"}, {"topic", "t"}, {"producerConfig:acks", "0"}},
       "producerConfig:acks: the sink sets 'acks' itself"},
      {{{"bootstrapServers", "h:9092"}, {"topic", "t"}, {"producerConfig:no.such.thing", "1"}},
       "producerConfig:no.such.thing: 'no.such.thing' is not allowed"},
      {{{"bootstrapServers", "h:9092"}, {"topic", "t"}, {"producerConfig:linger.ms", "-5"}},
       "producerConfig:linger.ms: "},  // allowed, but librdkafka refuses the value
      {{{"bootstrapServers", "h:9092"}, {"topic", "t"}, {"compressionType", "brotli"}},
       "compressionType: 'brotli' is not valid"},
      {{{"bootstrapServers", "h:9092"}, {"topic", "t"}, {"deliveryTimeoutMs", "5"}},
       "deliveryTimeoutMs: must be from 100"},
  };
  for (const Case& c : cases) {
    absl::Status s = plugin_->Validate(c.settings);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.needle;
    EXPECT_THAT(s.message(), HasSubstr(c.needle));
  }
  EXPECT_TRUE(plugin_
                  ->Validate({{"bootstrapServers", "h:9092"},
                              {"topic", "t"},
                              {"waitForBrokerAck", "false"},
                              {"producerConfig:linger.ms", "2"}})
                  .ok());
  EXPECT_TRUE(plugin_->IsSecret("producerConfig:sasl.password"));
}

// Validates bootstrap + topic + `extra`; "" when OK, else the message.
std::string ValidateWith(SinkPlugin& plugin, SettingsMap extra) {
  extra.emplace("bootstrapServers", "h:9092");
  extra.emplace("topic", "t");
  absl::Status s = plugin.Validate(extra);
  if (s.ok()) return "";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

// Properties that run a command, load a library, read a file or undo what the sink relies on
// are refused by name, with the reason and a pointer to the allow-list.
TEST_F(KafkaSinkTest, ProducerConfigRefusesEverythingOffTheAllowList) {
  struct Case {
    std::string property;
    std::string value;
    std::string reason;  // "" when only the generic text is expected
  };
  std::vector<Case> cases = {
      {"sasl.kerberos.kinit.cmd", "touch /tmp/pwned", "kinit shell command"},
      {"sasl.kerberos.keytab", "/etc/krb5.keytab", "kinit shell command"},
      {"sasl.kerberos.principal", "x; reboot", "kinit shell command"},
      {"plugin.library.paths", "/tmp/evil.so", "loads code into the node"},
      {"interceptors", "x", "loads code into the node"},
      {"ssl.engine.location", "/tmp/engine.so", "OpenSSL engine or provider library"},
      {"ssl.engine.id", "pkcs11", "OpenSSL engine or provider library"},
      {"ssl.providers", "legacy", "OpenSSL engine or provider library"},
      {"ssl.key.location", "/etc/shadow", "reads a file on the node"},
      {"ssl.ca.location", "/etc/shadow", "reads a file on the node"},
      {"ssl.certificate.location", "/etc/shadow", "reads a file on the node"},
      {"ssl.crl.location", "/etc/shadow", "reads a file on the node"},
      {"ssl.keystore.location", "/etc/shadow", "reads a file on the node"},
      {"debug", "all", "floods the node's log"},
      {"ssl.keystore.password", "x", ""},
      {"sasl.oauthbearer.config", "principal=admin", ""},
      {"enable.sasl.oauthbearer.unsecure.jwt", "true", ""},
      {"delivery.report.only.error", "true", ""},
      {"queuing.strategy", "lifo", ""},
      {"transactional.id", "x", ""},
      {"offset.store.path", "/tmp/x", ""},
      {"log.queue", "true", ""},
      {"internal.termination.signal", "9", ""},
      {"builtin.features", "gzip", ""},
      {"SASL.KERBEROS.KINIT.CMD", "touch /tmp/pwned", ""},  // names are matched exactly
  };
  for (const Case& c : cases) {
    std::string key = "producerConfig:" + c.property;
    std::string message = ValidateWith(*plugin_, {{key, c.value}});
    EXPECT_THAT(message, AllOf(HasSubstr(key + ": '" + c.property + "' is not allowed"),
                               HasSubstr("allow-list"), HasSubstr("plugins/kafka/README.md"),
                               HasSubstr(c.reason)))
        << c.property;
  }
}

TEST_F(KafkaSinkTest, ProducerConfigChecksTheValuesOfAllowedProperties) {
  auto refused = [&](SettingsMap extra, const std::string& needle) {
    EXPECT_THAT(ValidateWith(*plugin_, extra), HasSubstr(needle)) << needle;
  };
  // GSSAPI in any spelling: librdkafka would run kinit for it.
  refused({{"producerConfig:security.protocol", "sasl_ssl"},
           {"producerConfig:sasl.mechanism", "GSSAPI"}},
          "producerConfig:sasl.mechanism: 'GSSAPI' is not allowed");
  refused({{"producerConfig:security.protocol", "sasl_ssl"},
           {"producerConfig:sasl.mechanisms", "gssapi"}},
          "producerConfig:sasl.mechanisms: 'gssapi' is not allowed");
  // Without a mechanism librdkafka would fall back to GSSAPI.
  refused({{"producerConfig:security.protocol", "SASL_PLAINTEXT"}},
          "producerConfig:sasl.mechanism: required when security.protocol is SASL_PLAINTEXT");
  refused({{"producerConfig:partitioner", "random"}},
          "producerConfig:partitioner: 'random' is not allowed");
  refused({{"producerConfig:security.protocol", "sasl_ssl"},
           {"producerConfig:sasl.mechanism", "OAUTHBEARER"}},
          "OAUTHBEARER needs sasl.oauthbearer.method=oidc");
  refused({{"producerConfig:sasl.oauthbearer.method", "default"}},
          "producerConfig:sasl.oauthbearer.method: 'default' is not allowed");
  refused({{"producerConfig:sasl.oauthbearer.token.endpoint.url", "file:///etc/shadow"}},
          "producerConfig:sasl.oauthbearer.token.endpoint.url: must be an https:// URL");
  refused({{"producerConfig:sasl.username", "me\nforged"}},
          "producerConfig:sasl.username: the value contains a control character");
  refused({{"producerConfig:ssl.ca.pem", std::string("-----BEGIN\x01", 11)}},
          "producerConfig:ssl.ca.pem: the value contains a control character");

  EXPECT_EQ(
      ValidateWith(*plugin_, {{"producerConfig:security.protocol", "SASL_SSL"},
                              {"producerConfig:sasl.mechanism", "SCRAM-SHA-512"},
                              {"producerConfig:sasl.username", "svc"},
                              {"producerConfig:sasl.password", "secret"},
                              {"producerConfig:ssl.endpoint.identification.algorithm", "none"},
                              {"producerConfig:linger.ms", "5"},
                              {"producerConfig:batch.size", "65536"},
                              {"producerConfig:partitioner", "murmur2_random"},
                              {"producerConfig:client.id", "orders"}}),
      "");
  // Passes the sink's checks; a librdkafka built without libcurl (Debian's 2.0.2) then refuses
  // OIDC itself.
  std::string oidc = ValidateWith(
      *plugin_,
      {{"producerConfig:security.protocol", "sasl_ssl"},
       {"producerConfig:sasl.mechanism", "OAUTHBEARER"},
       {"producerConfig:sasl.oauthbearer.method", "oidc"},
       {"producerConfig:sasl.oauthbearer.client.id", "sink"},
       {"producerConfig:sasl.oauthbearer.client.secret", "s3cret"},
       {"producerConfig:sasl.oauthbearer.token.endpoint.url", "https://idp.example/token"}});
  if (!oidc.empty()) EXPECT_THAT(oidc, HasSubstr("not supported in this build")) << oidc;
  // PEM text is multi-line by nature.
  EXPECT_EQ(ValidateWith(*plugin_, {{"producerConfig:security.protocol", "ssl"},
                                    {"producerConfig:ssl.ca.pem",
                                     "-----BEGIN CERTIFICATE-----\r\nMIIB\n"
                                     "-----END CERTIFICATE-----\n"}}),
            "");
}

// A self-signed CA made for this test (public material, no key): inline TLS material as a host
// that refuses control characters in setting values lets it through, each line break written as
// a backslash and an "n".
constexpr char kTestCaPemEscaped[] =
    "-----BEGIN CERTIFICATE-----\\n"
    "MIIBmzCCAUGgAwIBAgIUX/f6Idnee70c092ci5l1ck267rYwCgYIKoZIzj0EAwIw\\n"
    "IjEgMB4GA1UEAwwXZXNkYiBrYWZrYS1zaW5rIHRlc3QgQ0EwIBcNMjYxMjA1MDYw\\n"
    "ODU0WhgPMjEyNjExMTEwNjA4NTRaMCIxIDAeBgNVBAMMF2VzZGIga2Fma2Etc2lu\\n"
    "ayB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAcONJUV6eoMyLwiO\\n"
    "aFGO/v9u3Z9vF6TXOzu59JqfIgV6m0wwSMmqWlGZHTPFOfvDtRCBSs0LjV5vgCp8\\n"
    "4pIxiqNTMFEwHQYDVR0OBBYEFBQG7l1EHKZbXEEUZXvJNi9f2qwRMB8GA1UdIwQY\\n"
    "MBaAFBQG7l1EHKZbXEEUZXvJNi9f2qwRMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI\\n"
    "zj0EAwIDSAAwRQIgHt5TMASKLaNIR/0CQnUwh0FL+M+KXxfW2agAEBj/8NECIQDm\\n"
    "aZR7Yvk16ffLtcLWopBc+ov7kMi46M1j4e3NugT10g==\\n"
    "-----END CERTIFICATE-----\\n";

TEST_F(KafkaSinkTest, InlinePemMayWriteItsLineBreaksAsBackslashN) {
  SettingsMap settings = {{"bootstrapServers", "127.0.0.1:1"},
                          {"topic", "events"},
                          {"producerConfig:security.protocol", "ssl"},
                          {"producerConfig:ssl.ca.pem", kTestCaPemEscaped}};
  ASSERT_EQ(esdb::FindControl(kTestCaPemEscaped), std::string_view::npos);  // the host lets it in
  // librdkafka parses the CA when the producer is made: it takes the text with line breaks.
  auto sink = plugin_->Open({"conn-kafka"}, settings, log_.Fn());
  ASSERT_TRUE(sink.ok()) << sink.status();
  sink->reset();
  // Without line breaks at all the same text is not PEM, and Open says so.
  std::string flat = kTestCaPemEscaped;
  for (size_t at; (at = flat.find("\\n")) != std::string::npos;) flat.erase(at, 2);
  settings["producerConfig:ssl.ca.pem"] = flat;
  auto refused = plugin_->Open({"conn-kafka"}, settings, log_.Fn());
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("ssl.ca.pem"));
}

// The reported attack: a kinit command that would run when the producer starts. Open refuses
// the settings before any producer exists, so the command never runs.
TEST_F(KafkaSinkTest, KinitCommandNeverRuns) {
  TempDir dir;
  const std::string marker = dir.File("kinit-ran");
  SettingsMap settings = {{"bootstrapServers", "127.0.0.1:1"},
                          {"topic", "events"},
                          {"producerConfig:security.protocol", "sasl_plaintext"},
                          {"producerConfig:sasl.mechanism", "GSSAPI"},
                          {"producerConfig:sasl.kerberos.kinit.cmd", "touch " + marker}};
  EXPECT_EQ(plugin_->Validate(settings).code(), absl::StatusCode::kInvalidArgument);
  auto sink = plugin_->Open({"conn-kafka"}, settings, log_.Fn());
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  settings.erase("producerConfig:sasl.kerberos.kinit.cmd");
  sink = plugin_->Open({"conn-kafka"}, settings, log_.Fn());  // the default kinit command
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
  struct stat st;
  EXPECT_NE(stat(marker.c_str(), &st), 0) << "the kinit command ran";
}

TEST_F(KafkaSinkTest, ControlCharactersInTopicHeadersAndServersAreRefused) {
  EXPECT_THAT(ValidateWith(*plugin_, {{"bootstrapServers", "h:9092\r\nx"}}),
              HasSubstr("bootstrapServers: the value contains a control character"));
  SettingsMap bad_topic = {{"bootstrapServers", "h:9092"}, {"topic", "orders\nforged"}};
  EXPECT_THAT(std::string(plugin_->Validate(bad_topic).message()),
              // The host escapes it (sinks/plugin_text.h): one line.
              HasSubstr("topic: 'orders\\nforged' is not a Kafka topic name"));
  SettingsMap spaced_topic = {{"bootstrapServers", "h:9092"}, {"topic", "my topic"}};
  EXPECT_THAT(std::string(plugin_->Validate(spaced_topic).message()),
              HasSubstr("is not a Kafka topic name"));
  EXPECT_THAT(ValidateWith(*plugin_, {{"defaultHeaders:source", "esdb\x7f"}}),
              HasSubstr("defaultHeaders:source: the value contains a control character"));
  EXPECT_THAT(ValidateWith(*plugin_, {{"defaultHeaders:a\tb", "v"}}),
              HasSubstr("the header name is empty or contains a control character"));
  EXPECT_THAT(ValidateWith(*plugin_, {{"key:source", "header"},
                                      {"key:header",
                                       "ten\x01"
                                       "ant"}}),
              HasSubstr("key:header: the value contains a control character"));
  EXPECT_EQ(ValidateWith(*plugin_, {{"defaultHeaders:source", "esdb node 1"}}), "");
}


// Metadata nested 100,000 deep used to make the header builder recurse until the node died.
// It now gives no metadata headers; the record is still produced with its own headers, and
// ordinary nested metadata still becomes headers.
TEST_F(KafkaSinkTest, DeeplyNestedMetadataGivesNoHeadersInsteadOfACrash) {
  MockCluster cluster(1, "events", 1);
  auto sink = Open(cluster);
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(3);
  log[0].metadata =
      R"({"tenant":"acme","deep":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  log[1].metadata = R"({"tenant":"beta","shape":{"a":[1,{"b":null}]}})";
  std::string at_limit = std::string(31, '[') + std::string(31, ']');  // 32 with the object
  log[2].metadata = R"({"edge":)" + at_limit + "}";
  EXPECT_EQ(WriteLog(*sink, log, 3), 0);

  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 1, log.size());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].position(), 1000u);
  EXPECT_EQ(got[0].headers.count("tenant"), 0u);
  EXPECT_EQ(got[0].headers.count("deep"), 0u);
  EXPECT_EQ(got[0].headers.at("esdb-stream"), log[0].stream);
  EXPECT_EQ(got[1].headers.at("tenant"), "beta");
  EXPECT_EQ(got[1].headers.at("shape"), R"({"a":[1,{"b":null}]})");
  EXPECT_EQ(got[2].headers.at("edge"), at_limit);
}

// batching:maxInFlight 4: write() returns once the batch is produced, without waiting for its
// delivery reports, so several batches are outstanding on a slow broker at once; each completes
// from the instance's polling thread, and what is consumed back is still the log, in order.
TEST_F(KafkaSinkTest, SeveralBatchesOutstandingCompleteFromThePoller) {
  MockCluster cluster(1, "events", 1);
  std::unique_ptr<Sink> sink = Open(cluster, {}, /*max_in_flight=*/4);
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->pipelined());
  std::vector<Record> log = Log(200);
  // Warm up (metadata, producer id) before the broker turns slow.
  std::vector<Record> first(log.begin(), log.begin() + 10);
  ASSERT_EQ(WriteLog(*sink, first, 10), 0);
  rd_kafka_mock_broker_set_rtt(cluster.get(), 1, 400);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<SinkResult> results;  // guarded by mu
  size_t completed_before_last_write = 0;
  const size_t kBatches = 4;
  for (size_t b = 0; b < kBatches; ++b) {
    auto batch = std::make_shared<std::vector<Record>>(log.begin() + 10 + b * 40,
                                                       log.begin() + 10 + (b + 1) * 40);
    if (b == kBatches - 1) {
      std::lock_guard<std::mutex> lock(mu);
      completed_before_last_write = results.size();
    }
    sink->Submit(batch, [&mu, &cv, &results](SinkResult r) {
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    });
  }
  EXPECT_LT(completed_before_last_write, kBatches - 1)
      << "write() waited for delivery reports: nothing was outstanding";
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(
        cv.wait_for(lock, std::chrono::seconds(30), [&] { return results.size() == kBatches; }));
    for (const SinkResult& r : results) EXPECT_EQ(r.outcome, SinkOutcome::kOk) << r.message;
  }
  rd_kafka_mock_broker_set_rtt(cluster.get(), 1, 0);
  std::vector<Record> rest(log.begin() + 10 + kBatches * 40, log.end());
  EXPECT_EQ(WriteLog(*sink, rest, 20), 0);  // Write() still works on a pipelined instance
  EXPECT_TRUE(sink->Flush().ok());

  std::vector<Consumed> got = ConsumeAll(cluster.bootstraps(), "events", 1, log.size());
  std::vector<uint64_t> positions;
  for (const Consumed& c : got) positions.push_back(c.position());
  EXPECT_THAT(positions, ElementsAreArray(Positions(log)));
  EXPECT_THAT(log_.Messages(), ::testing::Contains(HasSubstr("up to 4 writes in flight")));
}

// A permanent error fails the batch it hits, and only that one, with writes in flight too.
TEST_F(KafkaSinkTest, PermanentErrorWithWritesInFlightFailsItsOwnBatch) {
  MockCluster cluster(1, "events", 1);
  std::unique_ptr<Sink> sink = Open(cluster, {}, /*max_in_flight=*/4);
  ASSERT_NE(sink, nullptr);
  std::vector<Record> log = Log(20);
  ASSERT_EQ(WriteLog(*sink, std::vector<Record>(log.begin(), log.begin() + 10), 10), 0);
  rd_kafka_mock_push_request_errors(cluster.get(), 0 /* Produce */, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  SinkResult r = sink->Write(std::vector<Record>(log.begin() + 10, log.end()));
  EXPECT_EQ(r.outcome, SinkOutcome::kFatal) << r.message;
  EXPECT_THAT(r.message, HasSubstr("TOPIC_AUTHORIZATION_FAILED"));
}

}  // namespace
}  // namespace esdb
