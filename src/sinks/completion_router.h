// Routes write completions from plugins back to the write that is waiting for them.
//
// A plugin receives an opaque done_ctx with every write() and must call the completion exactly
// once. A buggy plugin may call it twice, late, or from another thread. So that no such call can
// touch freed memory or be taken for the outcome of a later write, done_ctx is not a pointer but
// a process-wide call id that is never reused; the router maps live ids to the sink's shared
// state. An id whose entry is gone resolves to nothing and the call is dropped.
#ifndef ESDB_SINKS_COMPLETION_ROUTER_H_
#define ESDB_SINKS_COMPLETION_ROUTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "esdb/sink.h"
#include "sinks/plugin.h"

namespace esdb {

// What one sink instance shares with its completion callbacks. Owned by the sink (and briefly by
// a running callback); outlives every registered call id of that sink.
struct WriteRendezvous {
  WriteRendezvous(std::string plugin, SinkLogFn log_fn)
      : plugin_name(std::move(plugin)), log(std::move(log_fn)) {}

  const std::string plugin_name;
  const SinkLogFn log;  // for reports about a misbehaving plugin; may be empty
  // Pipelined writes: a rendezvous per write, whose first completion runs this (on the plugin's
  // thread, outside `mu`) and drops it, instead of being awaited. Set before the call id is
  // registered.
  std::function<void(WriteRendezvous&)> on_complete;

  absl::Mutex mu;
  uint64_t awaited ABSL_GUARDED_BY(mu) = 0;  // call id of the write in flight, 0 when none
  bool completed ABSL_GUARDED_BY(mu) = false;
  esdb_sink_status status ABSL_GUARDED_BY(mu) = ESDB_SINK_OK;
  std::string message ABSL_GUARDED_BY(mu);
  // Set by esdb_sink_host.fail_record for the write in flight.
  std::optional<size_t> failed_index ABSL_GUARDED_BY(mu);
};

class CompletionRouter {
 public:
  // The process-wide router. Never destroyed, so a plugin thread that completes during process
  // exit still finds it.
  static CompletionRouter& Get();

  // A fresh call id bound to `target`.
  uint64_t Register(std::shared_ptr<WriteRendezvous> target);
  // Unbinds `id`; later completions with it are dropped. Unknown ids are ignored.
  void Forget(uint64_t id);

  // The esdb_sink_completion_fn handed to plugins; done_ctx carries the call id.
  static void Complete(void* done_ctx, esdb_sink_status status, const char* message);
  // esdb_sink_host.fail_record: notes the record at fault of the write `done_ctx` names, while
  // that write is awaited; otherwise ignored.
  static void FailRecord(void* done_ctx, size_t index);

 private:
  std::shared_ptr<WriteRendezvous> Lookup(uint64_t id);

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::shared_ptr<WriteRendezvous>> targets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb

#endif  // ESDB_SINKS_COMPLETION_ROUTER_H_
