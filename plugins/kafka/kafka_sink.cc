// kafka-sink: produces every record to one Kafka topic with librdkafka.
//
// Message: value = the event's bytes as stored; key = the stream id (default), the value of a
// header, or none; headers = defaultHeaders:*, then what a consumer needs to drop duplicates and
// route the event:
//   esdb-log-position (commit position in $all, the de-duplication key), esdb-stream,
//   esdb-revision, esdb-event-id, esdb-event-type, esdb-content-type, esdb-created (RFC 3339)
// then, with metadataHeaders=true, one header per top-level field of the event's JSON metadata
// (strings as they are, other values as JSON text; names starting with "esdb-" are skipped).
// Metadata nested deeper than kMaxMetadataDepth gives no headers: turning a value back into text
// recurses once per level, and metadata is written by whoever appends events.
//
// write() produces the batch in order; the write completes once every record of it has a delivery
// report, OK only when all succeeded. librdkafka bounds that: every message gets a report within
// deliveryTimeoutMs (message.timeout.ms). With one write in flight (batching:maxInFlight 1, the
// default) write() serves the reports itself (rd_kafka_poll, on the caller's thread) and
// completes before it returns. The plugin declares ESDB_SINK_PIPELINED_WRITES: when the host
// keeps up to N > 1 writes outstanding (esdb_sink_host.max_in_flight), a thread of the instance
// serves the reports instead, write() returns once the batch is produced, and each write
// completes from that thread when its last report arrives; flush and close drain the producer. With
// waitForBrokerAck (default) the producer is idempotent with acks=all, so its internal retries
// neither reorder nor duplicate records within a partition; a batch that still fails is resent
// whole by the host (RETRY), so a consumer may see a prefix of it twice, in order, and drops it by
// esdb-log-position.
//
// Errors that no retry can fix (record too large, authorization, invalid topic) are FATAL. A
// fatal producer error (the idempotent producer lost its guarantees) makes the batch RETRY on a
// new producer instance.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/cxx_boundary.h"
#include "core/json_depth.h"
#include "esdb/sink.h"
#include "kafka_config.h"
#include "nlohmann/json.hpp"

namespace esdb_kafka_sink {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Deepest metadata (in levels of objects and arrays) that still becomes headers. Real metadata
// is a flat object or close to it; the bound keeps parsing and printing it shallow.
constexpr size_t kMaxMetadataDepth = 32;

struct KafkaSink;
struct Batch;

// A produced message's opaque: which record of which write it is.
struct Slot {
  Batch* batch = nullptr;
  size_t index = 0;
};

// Delivery bookkeeping of one write, from write() until its completion, which also frees it.
// Every produced message holds one count of `pending`, and write() one more while it produces,
// so that the batch cannot complete before all of it is produced; whoever drops the count to 0
// completes the write (Finish).
struct Batch {
  KafkaSink* sink = nullptr;
  const esdb_sink_record* const* records = nullptr;
  size_t count = 0;
  esdb_sink_completion_fn done = nullptr;
  void* done_ctx = nullptr;
  std::vector<Slot> slots;  // slots[i] for records[i]
  // Guarded by sink->mu:
  size_t pending = 1;
  size_t first_failed = SIZE_MAX;  // lowest record index whose delivery (or produce) failed
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

struct KafkaSink {
  const esdb_sink_host* host = nullptr;
  KafkaConfig config;
  bool pipelined = false;  // the host keeps several writes outstanding (max_in_flight > 1)
  rd_kafka_t* producer = nullptr;
  std::mutex mu;
  size_t outstanding = 0;        // guarded by mu: writes not yet completed
  bool producer_failed = false;  // guarded by mu: a fatal producer error; replace it when idle
  // Pipelined: serves delivery reports (rd_kafka_poll) while `producer` lives.
  std::thread poller;
  std::atomic<bool> stop_polling{false};

  void Log(esdb_sink_log_level level, const std::string& line) const {
    if (host != nullptr && ESDB_HAS_FUNCTION(esdb_sink_host, host, log)) {
      host->log(host->ctx, level, line.c_str());
    }
  }
  size_t Outstanding() {
    std::lock_guard<std::mutex> lock(mu);
    return outstanding;
  }
  // Starts serving delivery reports on a thread of their own. REQUIRES: pipelined, a producer.
  void StartPolling() {
    stop_polling = false;
    poller = std::thread([this] {
      while (!stop_polling.load()) rd_kafka_poll(producer, 100);
    });
  }
  void StopPolling() {
    if (!poller.joinable()) return;
    stop_polling = true;
    poller.join();
  }
  void DestroyProducer() {
    StopPolling();
    if (producer != nullptr) {
      rd_kafka_flush(producer, 5000);
      rd_kafka_destroy(producer);
      producer = nullptr;
    }
  }
  ~KafkaSink() { DestroyProducer(); }
};

using esdb_plugin::CopyError;

using esdb_plugin::Rfc3339;

bool IsPermanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_COMPRESSION_TYPE:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

// Completes `batch` and frees it; called once its count of pending reports reached 0. The outcome
// as the synchronous sink always gave it: a fatal producer error first (RETRY, and the producer
// is replaced once no write is outstanding), then the first record that failed.
void Finish(Batch* batch) {
  KafkaSink& sink = *batch->sink;
  esdb_sink_status status = ESDB_SINK_OK;
  const char* text = "unexpected error while producing";
  std::string message;
  bool name_record = false;  // the records before first_failed were all acknowledged
  try {
    char fatal[512];
    rd_kafka_resp_err_t fatal_error = rd_kafka_fatal_error(sink.producer, fatal, sizeof(fatal));
    if (fatal_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = ESDB_SINK_RETRY;
      message = std::string("the producer failed (") + rd_kafka_err2name(fatal_error) + ": " +
                fatal + "); retrying with a new producer";
      sink.Log(ESDB_SINK_LOG_WARN, "kafka-sink: " + message);
    } else if (batch->error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_resp_err_t error = batch->error;
      const esdb_sink_record& r = *batch->records[batch->first_failed];
      message = std::string("record at position ") + std::to_string(r.commit_position) +
                " to topic '" + sink.config.topic + "' failed: " + rd_kafka_err2name(error) + " (" +
                rd_kafka_err2str(error) + ")";
      status = IsPermanent(error) ? ESDB_SINK_FATAL : ESDB_SINK_RETRY;
      name_record = true;
    }
    if (!message.empty()) text = message.c_str();
    std::lock_guard<std::mutex> lock(sink.mu);
    if (fatal_error != RD_KAFKA_RESP_ERR_NO_ERROR) sink.producer_failed = true;
    --sink.outstanding;
  } catch (...) {
    status = ESDB_SINK_RETRY;
    std::lock_guard<std::mutex> lock(sink.mu);
    --sink.outstanding;
  }
  // Every report is in, so the records before the first that failed were acknowledged: the
  // host need not send them again, and with errors:tolerance=all sets that one record aside
  // without splitting the batch to find it.
  const esdb_sink_host* host = sink.host;
  if (name_record && status != ESDB_SINK_OK && host != nullptr &&
      ESDB_HAS_FUNCTION(esdb_sink_host, host, fail_record)) {
    host->fail_record(batch->done_ctx, batch->first_failed);
  }
  // After done() the host may close the instance: nothing of `sink` is touched from here on.
  batch->done(batch->done_ctx, status, status == ESDB_SINK_OK ? nullptr : text);
  delete batch;
}

// Drops one count of `batch`'s pending reports; at 0, completes it. `failed`/`error`: a record
// that failed, if any.
void Release(Batch* batch, size_t failed = SIZE_MAX,
             rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR) {
  bool last;
  {
    std::lock_guard<std::mutex> lock(batch->sink->mu);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR && failed < batch->first_failed) {
      batch->first_failed = failed;
      batch->error = error;
    }
    last = --batch->pending == 0;
  }
  if (last) Finish(batch);
}

// Runs on the thread that calls rd_kafka_poll: write()'s (one write in flight) or the poller's.
void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->_private == nullptr) return;
  const auto* slot = static_cast<const Slot*>(message->_private);
  Release(slot->batch, slot->index, message->err);
}

// librdkafka's log lines; may run on its internal threads (host log is thread-safe).
void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  auto* sink = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
  if (sink == nullptr) return;
  esdb_sink_log_level mapped = level <= 3   ? ESDB_SINK_LOG_ERROR
                               : level <= 4 ? ESDB_SINK_LOG_WARN
                               : level <= 6 ? ESDB_SINK_LOG_INFO
                                            : ESDB_SINK_LOG_DEBUG;
  try {
    sink->Log(mapped, std::string("kafka-sink: librdkafka ") + facility + ": " + text);
  } catch (...) {
  }
}

// Sets every property of `config` on `conf`; "" or why not, naming the setting at fault.
std::string ApplyProperties(const KafkaConfig& config, rd_kafka_conf_t* conf) {
  char errstr[512];
  for (const auto& [name, value] : ProducerProperties(config)) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      bool own = true;
      for (const auto& extra : config.producer_config) own &= extra.first != name;
      return (own ? std::string("") : "producerConfig:" + name + ": ") + errstr;
    }
  }
  for (const auto& [name, value] : HardeningProperties()) {
    // Refused only by a librdkafka without the feature, which then cannot misuse it either.
    rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr));
  }
  return "";
}

// Creates the producer; "" or why not. Configuration errors name the setting they came from.
std::string CreateProducer(KafkaSink& sink) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (std::string why = ApplyProperties(sink.config, conf); !why.empty()) {
    rd_kafka_conf_destroy(conf);
    return why;
  }
  rd_kafka_conf_set_opaque(conf, &sink);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_log_cb(conf, OnLog);
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (producer == nullptr) {
    rd_kafka_conf_destroy(conf);
    return std::string("cannot create the producer: ") + errstr;
  }
  sink.producer = producer;  // rd_kafka_new took conf over
  return "";
}

// One header per top-level field of `metadata` when it is a JSON object nested no deeper than
// kMaxMetadataDepth; nothing otherwise.
void AddMetadataHeaders(const uint8_t* metadata, size_t size, Headers& headers) {
  std::string_view text(reinterpret_cast<const char*>(metadata), size);
  // Checked before parsing, so neither the parser nor dump() below ever meets deep nesting.
  if (!esdb::JsonDepthWithin(text, kMaxMetadataDepth)) return;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_object()) return;
  for (const auto& [name, value] : parsed.items()) {
    if (name.rfind("esdb-", 0) == 0) continue;
    headers.emplace_back(
        name, value.is_string()
                  ? value.get<std::string>()
                  : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

Headers BuildHeaders(const KafkaConfig& config, const esdb_sink_record& r) {
  Headers headers = config.default_headers;
  headers.emplace_back("esdb-log-position", std::to_string(r.commit_position));
  headers.emplace_back("esdb-stream", r.stream != nullptr ? r.stream : "");
  headers.emplace_back("esdb-revision", std::to_string(r.revision));
  headers.emplace_back("esdb-event-id", r.event_id != nullptr ? r.event_id : "");
  headers.emplace_back("esdb-event-type", r.event_type != nullptr ? r.event_type : "");
  headers.emplace_back("esdb-content-type", r.content_type != nullptr ? r.content_type : "");
  headers.emplace_back("esdb-created", Rfc3339(r.created_unix_us));
  if (config.metadata_headers && r.metadata_size > 0) {
    AddMetadataHeaders(r.metadata, r.metadata_size, headers);
  }
  return headers;
}

const std::string* FindHeader(const Headers& headers, const std::string& name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

// Produces one record, waiting for queue space if librdkafka's buffer is full.
rd_kafka_resp_err_t Produce(KafkaSink& sink, const esdb_sink_record& r, Slot* opaque) {
  Headers headers = BuildHeaders(sink.config, r);
  const std::string* key = nullptr;
  std::string stream_key;
  if (sink.config.key_source == KeySource::kStream) {
    stream_key = r.stream != nullptr ? r.stream : "";
    key = &stream_key;
  } else if (sink.config.key_source == KeySource::kHeader) {
    key = FindHeader(headers, sink.config.key_header);
  }
  const void* key_data = key != nullptr ? key->data() : nullptr;
  size_t key_size = key != nullptr ? key->size() : 0;
  for (;;) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, value] : headers) {
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    rd_kafka_resp_err_t err =
        rd_kafka_producev(sink.producer, RD_KAFKA_V_TOPIC(sink.config.topic.c_str()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<uint8_t*>(r.data), r.data_size),
                          RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return err;  // hdrs now belong to the message
    rd_kafka_headers_destroy(hdrs);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return err;
    // Delivery reports free queue space; with writes in flight the poller serves them (and
    // completions stay off the thread that is inside write()).
    if (sink.pipelined) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } else {
      rd_kafka_poll(sink.producer, 50);
    }
  }
}

// Destroys a producer that failed fatally, once no write is outstanding on it (until then its
// writes fail and come back as RETRY); the next write creates a new one.
void DropFailedProducer(KafkaSink& sink) {
  {
    std::lock_guard<std::mutex> lock(sink.mu);
    if (!sink.producer_failed || sink.outstanding > 0) return;
    sink.producer_failed = false;
  }
  // Every report is in: nothing is left to flush on a producer that lost its guarantees.
  sink.StopPolling();
  rd_kafka_destroy(sink.producer);
  sink.producer = nullptr;
}

// Makes sure there is a working producer (and, pipelined, its poller); "" or why not.
std::string EnsureProducer(KafkaSink& sink) {
  DropFailedProducer(sink);
  if (sink.producer != nullptr) return "";
  if (std::string why = CreateProducer(sink); !why.empty()) return why;
  if (sink.pipelined) sink.StartPolling();
  return "";
}

// Produces the batch in order; `batch` completes (and is freed) once every produced record has
// its report, from the thread that serves them, or here when nothing is left to wait for.
void ProduceBatch(KafkaSink& sink, Batch* batch) {
  {
    std::lock_guard<std::mutex> lock(sink.mu);
    ++sink.outstanding;
  }
  for (size_t i = 0; i < batch->count; ++i) {
    {
      std::lock_guard<std::mutex> lock(sink.mu);
      ++batch->pending;  // before producing: the report may come at once, on the poller
    }
    rd_kafka_resp_err_t err;
    try {
      err = Produce(sink, *batch->records[i], &batch->slots[i]);
    } catch (...) {
      err = RD_KAFKA_RESP_ERR__FAIL;  // out of memory building the message: not produced
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Release(batch, i, err);  // its own count: never the last, write() still holds one
      break;
    }
  }
  Release(batch);  // write()'s own count
}

esdb_sink_status Validate(const esdb_sink_kv* settings, size_t count, char* err, size_t err_size) {
  return esdb_plugin::Guarded("cannot check the settings", ESDB_SINK_INVALID_CONFIG, err, err_size, [&]() -> esdb_sink_status {
    KafkaConfig config;
    std::string why = ParseConfig(settings, count, config);
    if (why.empty()) {
      // Let librdkafka judge the values too, without connecting anywhere. Only allow-listed
      // properties get here: setting some others (plugin.library.paths) acts at once.
      rd_kafka_conf_t* conf = rd_kafka_conf_new();
      why = ApplyProperties(config, conf);
      rd_kafka_conf_destroy(conf);
    }
    if (why.empty()) return ESDB_SINK_OK;
    CopyError(why, err, err_size);
    return ESDB_SINK_INVALID_CONFIG;
  });
}

esdb_sink_status Open(const esdb_sink_kv* settings, size_t count, const esdb_sink_host* host,
                      esdb_sink_instance** out, char* err, size_t err_size) {
  return esdb_plugin::Guarded("open failed", ESDB_SINK_FATAL, err, err_size, [&]() -> esdb_sink_status {
    auto sink = std::make_unique<KafkaSink>();
    sink->host = host;
    if (std::string why = ParseConfig(settings, count, sink->config); !why.empty()) {
      CopyError(why, err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    sink->pipelined =
        ESDB_HAS_FIELD(esdb_sink_host, host, max_in_flight) && host->max_in_flight > 1;
    if (std::string why = CreateProducer(*sink); !why.empty()) {
      CopyError(why, err, err_size);
      return ESDB_SINK_INVALID_CONFIG;
    }
    if (sink->pipelined) sink->StartPolling();
    sink->Log(ESDB_SINK_LOG_INFO,
              "kafka-sink: producing to topic '" + sink->config.topic + "' via " +
                  sink->config.bootstrap_servers +
                  (sink->config.wait_for_broker_ack ? " (acks=all, idempotent)" : " (acks=1)") +
                  (sink->pipelined
                       ? ", up to " + std::to_string(host->max_in_flight) + " writes in flight"
                       : ""));
    *out = reinterpret_cast<esdb_sink_instance*>(sink.release());
    return ESDB_SINK_OK;
  });
}

void Write(esdb_sink_instance* instance, const esdb_sink_record* const* records, size_t count,
           esdb_sink_completion_fn done, void* done_ctx) {
  auto* sink = reinterpret_cast<KafkaSink*>(instance);
  Batch* batch = nullptr;
  std::string why;
  try {
    why = EnsureProducer(*sink);
    if (why.empty()) {
      auto owned = std::make_unique<Batch>();
      owned->sink = sink;
      owned->records = records;
      owned->count = count;
      owned->done = done;
      owned->done_ctx = done_ctx;
      owned->slots.resize(count);
      for (size_t i = 0; i < count; ++i) owned->slots[i] = Slot{owned.get(), i};
      batch = owned.release();
    }
  } catch (...) {
    why = "out of memory or no thread for the producer";
  }
  if (batch == nullptr) {
    done(done_ctx, ESDB_SINK_RETRY, why.empty() ? "cannot produce" : why.c_str());
    return;
  }
  // From here on the batch completes itself, exactly once (Finish).
  ProduceBatch(*sink, batch);
  if (sink->pipelined) return;
  // One write in flight: serve its reports here, so that it completes before write() returns.
  // Every produced message gets exactly one report within message.timeout.ms.
  while (sink->Outstanding() > 0) rd_kafka_poll(sink->producer, 100);
  DropFailedProducer(*sink);
}

esdb_sink_status Flush(esdb_sink_instance* instance, char* err, size_t err_size) {
  auto* sink = reinterpret_cast<KafkaSink*>(instance);
  DropFailedProducer(*sink);  // what it acknowledged is in; what it failed was refused
  if (sink->producer == nullptr) return ESDB_SINK_OK;
  rd_kafka_resp_err_t e = rd_kafka_flush(sink->producer, 10000);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return ESDB_SINK_OK;
  CopyError(std::string("flush: ") + rd_kafka_err2str(e), err, err_size);
  return ESDB_SINK_RETRY;
}

void Close(esdb_sink_instance* instance) { delete reinterpret_cast<KafkaSink*>(instance); }

const esdb_sink_plugin kPlugin = {
    sizeof(esdb_sink_plugin),
    ESDB_SINK_ABI_VERSION,
    1,  // min_host_abi_version
    "kafka-sink",
    "1.0.0",
    "Produces records to a Kafka topic (librdkafka, idempotent, acks=all); the key is the stream "
    "id by default and headers carry position, stream, revision, id and type.",
    kSettings,
    kSettingsCount,
    Validate,
    Open,
    Write,
    Flush,
    Close,
    ESDB_SINK_PIPELINED_WRITES};

}  // namespace
}  // namespace esdb_kafka_sink

extern "C" ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  (void)host_abi_version;
  return &esdb_kafka_sink::kPlugin;
}
