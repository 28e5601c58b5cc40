#include "sinks/completion_router.h"

#include <cstdint>
#include <cstdio>
#include <exception>

#include "absl/strings/str_cat.h"

namespace esdb {

CompletionRouter& CompletionRouter::Get() {
  static CompletionRouter* router = new CompletionRouter();
  return *router;
}

uint64_t CompletionRouter::Register(std::shared_ptr<WriteRendezvous> target) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  targets_.emplace(id, std::move(target));
  return id;
}

void CompletionRouter::Forget(uint64_t id) {
  absl::MutexLock lock(&mu_);
  targets_.erase(id);
}

std::shared_ptr<WriteRendezvous> CompletionRouter::Lookup(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = targets_.find(id);
  return it == targets_.end() ? nullptr : it->second;
}

void CompletionRouter::Complete(void* done_ctx, esdb_sink_status status, const char* message) {
  // Called from plugin code, possibly C: nothing may unwind out of here.
  try {
    uint64_t id = reinterpret_cast<uintptr_t>(done_ctx);
    std::shared_ptr<WriteRendezvous> target = Get().Lookup(id);
    if (target == nullptr) return;  // a write long finished, or a sink already closed
    bool duplicate = false;
    {
      absl::MutexLock lock(&target->mu);
      if (target->awaited == id) {
        target->awaited = 0;
        target->completed = true;
        target->status = status;
        target->message = message != nullptr ? message : "";
      } else {
        duplicate = true;
      }
    }
    if (!duplicate && target->on_complete) {
      // Only the first completion gets here, so only this thread touches on_complete now. It
      // goes with this call (and the records it keeps alive); the id stays routed, so that a
      // second completion is recognised as one.
      auto on_complete = std::move(target->on_complete);
      target->on_complete = nullptr;
      on_complete(*target);
    }
    if (duplicate && target->log) {
      target->log(ESDB_SINK_LOG_WARN,
                  absl::StrCat("sink plugin '", target->plugin_name,
                               "' reported the outcome of one write more than once (or after "
                               "the write timed out); extra status ",
                               status, " ignored"));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "esdb sinks: write completion failed: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "esdb sinks: write completion failed\n");
  }
}

void CompletionRouter::FailRecord(void* done_ctx, size_t index) {
  try {
    uint64_t id = reinterpret_cast<uintptr_t>(done_ctx);
    std::shared_ptr<WriteRendezvous> target = Get().Lookup(id);
    if (target == nullptr) return;
    absl::MutexLock lock(&target->mu);
    if (target->awaited == id) target->failed_index = index;
  } catch (...) {
  }
}

}  // namespace esdb
