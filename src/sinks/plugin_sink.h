// The Sink behind a plugin instance: turns Records into the C ABI, calls write() and waits for the
// completion, and closes the instance when destroyed. Created by SinkPlugin::Open.
#ifndef ESDB_SINKS_PLUGIN_SINK_H_
#define ESDB_SINKS_PLUGIN_SINK_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "esdb/sink.h"
#include "sinks/completion_router.h"
#include "sinks/plugin.h"
#include "sinks/sink.h"

namespace esdb {

// The esdb_sink_host one instance is opened with. Must stay at one address until the instance is
// closed, hence always held by pointer.
class SinkHostServices {
 public:
  SinkHostServices(const SinkContext& context, SinkLogFn log);
  SinkHostServices(const SinkHostServices&) = delete;
  SinkHostServices& operator=(const SinkHostServices&) = delete;

  const esdb_sink_host* host() const { return &host_; }
  const SinkLogFn& log() const { return log_; }

 private:
  // esdb_sink_host.log; thread-safe as long as the SinkLogFn is.
  static void Log(void* ctx, esdb_sink_log_level level, const char* message);

  const std::string connector_id_;
  const SinkLogFn log_;
  esdb_sink_host host_;
};

class PluginSink final : public Sink {
 public:
  // Takes over `instance`, opened by `table` with `services->host()`. `table` must outlive this.
  PluginSink(const esdb_sink_plugin* table, std::string plugin_name,
             std::unique_ptr<SinkHostServices> services, esdb_sink_instance* instance,
             absl::Duration write_timeout);
  ~PluginSink() override;  // close(), unless the instance was abandoned

  // Waits for the plugin's completion up to the write timeout; an empty batch is acknowledged
  // without calling the plugin. A status outside the ABI's values is kFatal. A record the plugin
  // names with fail_record comes back as failed_index. A write that does not complete in time is
  // kRetry with instance_lost, and abandons the instance: it may still be working on the batch,
  // so it is never written to or closed again (its memory is leaked on purpose); the caller
  // retries on a new instance. A completion that comes after that, or twice, is logged and
  // ignored.
  SinkResult Write(std::span<const Record> records) override;
  // OK when the plugin has no flush(). RETRY -> Unavailable, anything else -> Internal.
  absl::Status Flush() override;
  // The plugin declares ESDB_SINK_PIPELINED_WRITES.
  bool pipelined() const override;
  // Calls write() and returns; the completion maps the outcome as Write() does and calls `done`
  // on the plugin's thread. No timeout here: the caller gives a write up (Abandon()). A
  // completion that comes twice, or after Abandon(), is logged and ignored.
  void Submit(std::shared_ptr<const std::vector<Record>> records,
              std::function<void(SinkResult)> done) override;
  void Abandon() override;

 private:
  // A completion's status as the SinkResult of a write of `count` records.
  static SinkResult ToResult(const std::string& plugin_name, const SinkLogFn& log,
                             esdb_sink_status status, const std::string& message,
                             std::optional<size_t> failed_index, size_t count);

  const esdb_sink_plugin* const table_;
  const std::string plugin_name_;
  const std::unique_ptr<SinkHostServices> services_;
  esdb_sink_instance* const instance_;
  const absl::Duration write_timeout_;
  bool abandoned_ = false;
  const std::shared_ptr<WriteRendezvous> rendezvous_;
  // Registers a call id for a write to `target`. The ids of the last kRoutedCalls writes stay
  // routed, so that a late or second completion of one of them is recognised and logged
  // (CompletionRouter::Complete); older ones are forgotten once finished.
  uint64_t Route(std::shared_ptr<WriteRendezvous> target);
  struct RoutedCall {
    uint64_t id;
    std::shared_ptr<WriteRendezvous> target;
  };
  static constexpr size_t kRoutedCalls = 32;  // a few hundred bytes per connector
  std::deque<RoutedCall> routed_;
  // Reused from batch to batch to spare allocations.
  std::vector<esdb_sink_record> records_;
  std::vector<const esdb_sink_record*> pointers_;
};

}  // namespace esdb

#endif  // ESDB_SINKS_PLUGIN_SINK_H_
