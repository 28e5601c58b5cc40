#include "sinks/plugin_sink.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sinks/plugin_text.h"

namespace esdb {

namespace {

// The C view of `r`, borrowing its strings and bytes.
esdb_sink_record ToC(const Record& r) {
  esdb_sink_record c{};
  c.struct_size = sizeof(esdb_sink_record);
  c.stream = r.stream.c_str();
  c.revision = r.revision;
  c.commit_position = r.position.commit;
  c.prepare_position = r.position.prepare;
  c.event_id = r.event_id.c_str();
  c.event_type = r.event_type.c_str();
  c.content_type = r.content_type.c_str();
  c.data = reinterpret_cast<const uint8_t*>(r.data.data());
  c.data_size = r.data.size();
  c.metadata = reinterpret_cast<const uint8_t*>(r.metadata.data());
  c.metadata_size = r.metadata.size();
  c.created_unix_us = r.created_unix_us;
  return c;
}

}  // namespace

SinkHostServices::SinkHostServices(const SinkContext& context, SinkLogFn log)
    : connector_id_(context.connector_id), log_(std::move(log)), host_{} {
  host_.struct_size = sizeof(esdb_sink_host);
  host_.abi_version = ESDB_SINK_ABI_VERSION;
  host_.ctx = this;
  host_.log = &SinkHostServices::Log;
  host_.connector_id = connector_id_.c_str();
  host_.fail_record = &CompletionRouter::FailRecord;
  host_.max_batch_records = static_cast<uint32_t>(
      std::clamp<int64_t>(context.max_batch_records, 1, std::numeric_limits<uint32_t>::max()));
  host_.max_batch_bytes = static_cast<uint64_t>(std::max<int64_t>(context.max_batch_bytes, 1));
  host_.generation = static_cast<uint64_t>(std::max<int64_t>(context.generation, 0));
  host_.epoch = static_cast<uint64_t>(std::max<int64_t>(context.epoch, 0));
  host_.max_in_flight = static_cast<uint32_t>(std::clamp<int64_t>(context.max_in_flight, 1, 64));
}

void SinkHostServices::Log(void* ctx, esdb_sink_log_level level, const char* message) {
  // Called from plugin code: nothing may unwind out of here.
  try {
    auto* self = static_cast<SinkHostServices*>(ctx);
    if (self != nullptr && self->log_) self->log_(level, message != nullptr ? message : "");
  } catch (...) {
  }
}

PluginSink::PluginSink(const esdb_sink_plugin* table, std::string plugin_name,
                       std::unique_ptr<SinkHostServices> services, esdb_sink_instance* instance,
                       absl::Duration write_timeout)
    : table_(table),
      plugin_name_(std::move(plugin_name)),
      services_(std::move(services)),
      instance_(instance),
      write_timeout_(write_timeout),
      rendezvous_(std::make_shared<WriteRendezvous>(plugin_name_, services_->log())) {}

PluginSink::~PluginSink() {
  if (abandoned_) return;  // its writes may still complete: their ids stay routed for ever
  table_->close(instance_);
  // After close() the plugin must not complete anything; if it does, the id leads nowhere.
  for (const RoutedCall& c : routed_) CompletionRouter::Get().Forget(c.id);
}

uint64_t PluginSink::Route(std::shared_ptr<WriteRendezvous> target) {
  CompletionRouter& router = CompletionRouter::Get();
  uint64_t id = router.Register(target);
  routed_.push_back({id, std::move(target)});
  while (routed_.size() > kRoutedCalls) {
    const RoutedCall& oldest = routed_.front();
    {
      absl::MutexLock lock(&oldest.target->mu);
      if (oldest.target->awaited == oldest.id) break;  // still outstanding
    }
    router.Forget(oldest.id);
    routed_.pop_front();
  }
  return id;
}

void PluginSink::Abandon() {
  abandoned_ = true;
  // A completion from now on is late: logged and ignored.
  for (const RoutedCall& c : routed_) {
    absl::MutexLock lock(&c.target->mu);
    if (c.target->awaited == c.id) c.target->awaited = 0;
  }
}

SinkResult PluginSink::ToResult(const std::string& plugin_name_, const SinkLogFn& log,
                                esdb_sink_status status, const std::string& message,
                                std::optional<size_t> failed_index, size_t count) {
  if (failed_index && *failed_index >= count && log) {
    log(ESDB_SINK_LOG_WARN,
        absl::StrCat("sink plugin '", plugin_name_, "' named record ", *failed_index,
                     " of a write of ", count, " as refused; ignored"));
  }
  if (failed_index && *failed_index >= count) failed_index.reset();

  SinkResult out;
  switch (status) {
    case ESDB_SINK_OK:
      return {};
    case ESDB_SINK_RETRY:
      out = {
          SinkOutcome::kRetry,
          WithPluginName(plugin_name_,
                         message.empty() ? "transient failure (RETRY) without a reason" : message)};
      break;
    case ESDB_SINK_FATAL:
      out = {
          SinkOutcome::kFatal,
          WithPluginName(plugin_name_,
                         message.empty() ? "permanent failure (FATAL) without a reason" : message)};
      break;
    default:
      out = {SinkOutcome::kFatal,
             absl::StrCat(plugin_name_, ": write completed with status ", status, " (",
                          esdb_sink_status_name(status),
                          "), which is not a valid write outcome; treated as FATAL",
                          message.empty() ? "" : ": ", WithoutPluginName(plugin_name_, message))};
      break;
  }
  out.failed_index = failed_index;
  return out;
}

SinkResult PluginSink::Write(std::span<const Record> records) {
  if (abandoned_) {
    return {SinkOutcome::kFatal, absl::StrCat(plugin_name_,
                                              ": the instance was abandoned after a "
                                              "write that never completed")};
  }
  if (records.empty()) return {};
  records_.resize(records.size());
  pointers_.resize(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    records_[i] = ToC(records[i]);
    pointers_[i] = &records_[i];
  }

  uint64_t call = Route(rendezvous_);
  {
    absl::MutexLock lock(&rendezvous_->mu);
    rendezvous_->awaited = call;
    rendezvous_->completed = false;
    rendezvous_->failed_index.reset();
  }
  table_->write(instance_, pointers_.data(), pointers_.size(), &CompletionRouter::Complete,
                reinterpret_cast<void*>(static_cast<uintptr_t>(call)));
  esdb_sink_status status;
  std::string message;
  std::optional<size_t> failed_index;
  bool completed;
  {
    absl::MutexLock lock(&rendezvous_->mu);
    completed =
        rendezvous_->mu.AwaitWithTimeout(absl::Condition(&rendezvous_->completed), write_timeout_);
    // A completion from now on is late: reported and ignored (CompletionRouter::Complete).
    if (!completed) rendezvous_->awaited = 0;
    status = rendezvous_->status;
    message = PluginText(rendezvous_->message);
    failed_index = rendezvous_->failed_index;
  }
  if (!completed) {
    abandoned_ = true;
    SinkResult lost{
        SinkOutcome::kRetry,
        absl::StrCat(plugin_name_, ": a write of ", records.size(),
                     " records did not complete within ", absl::FormatDuration(write_timeout_),
                     "; the sink instance is abandoned and the write retried on a "
                     "new one")};
    lost.instance_lost = true;
    return lost;
  }
  return ToResult(plugin_name_, services_->log(), status, message, failed_index, records.size());
}

bool PluginSink::pipelined() const {
  return ESDB_HAS_FIELD(esdb_sink_plugin, table_, flags) &&
         (table_->flags & ESDB_SINK_PIPELINED_WRITES) != 0;
}

namespace {

// The C view of one pipelined write, alive until its completion (or for ever, when the plugin
// never completes it: then the instance was abandoned and the plugin may still read it).
struct PendingWrite {
  std::shared_ptr<const std::vector<Record>> records;
  std::vector<esdb_sink_record> c_records;
  std::vector<const esdb_sink_record*> pointers;
};

}  // namespace

void PluginSink::Submit(std::shared_ptr<const std::vector<Record>> records,
                        std::function<void(SinkResult)> done) {
  if (abandoned_) {
    return done(
        {SinkOutcome::kFatal, absl::StrCat(plugin_name_,
                                           ": the instance was abandoned after a write that "
                                           "never completed")});
  }
  if (records->empty()) return done({});
  auto pending = std::make_shared<PendingWrite>();
  pending->records = std::move(records);
  const std::vector<Record>& rs = *pending->records;
  pending->c_records.resize(rs.size());
  pending->pointers.resize(rs.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    pending->c_records[i] = ToC(rs[i]);
    pending->pointers[i] = &pending->c_records[i];
  }
  auto rendezvous = std::make_shared<WriteRendezvous>(plugin_name_, services_->log());
  const size_t count = rs.size();
  // Holds all it needs itself: an abandoned instance's PluginSink may be gone when it runs.
  rendezvous->on_complete = [pending, count, name = plugin_name_, log = services_->log(),
                             done = std::move(done)](WriteRendezvous& r) {
    esdb_sink_status status;
    std::string message;
    std::optional<size_t> failed_index;
    {
      absl::MutexLock lock(&r.mu);
      status = r.status;
      message = PluginText(r.message);
      failed_index = r.failed_index;
    }
    done(ToResult(name, log, status, message, failed_index, count));
  };
  uint64_t call = Route(rendezvous);
  {
    absl::MutexLock lock(&rendezvous->mu);
    rendezvous->awaited = call;
  }
  table_->write(instance_, pending->pointers.data(), pending->pointers.size(),
                &CompletionRouter::Complete, reinterpret_cast<void*>(static_cast<uintptr_t>(call)));
}

absl::Status PluginSink::Flush() {
  if (abandoned_) return absl::InternalError(absl::StrCat(plugin_name_, ": instance abandoned"));
  if (!ESDB_HAS_FUNCTION(esdb_sink_plugin, table_, flush)) return absl::OkStatus();
  char err[1024] = {};
  esdb_sink_status status = table_->flush(instance_, err, sizeof(err));
  if (status == ESDB_SINK_OK) return absl::OkStatus();
  std::string text =
      absl::StrCat(plugin_name_, ": flush failed with ", esdb_sink_status_name(status), ": ",
                   WithoutPluginName(plugin_name_, PluginText(err, sizeof(err))));
  if (status == ESDB_SINK_RETRY) return absl::UnavailableError(text);
  return absl::InternalError(text);
}

}  // namespace esdb
