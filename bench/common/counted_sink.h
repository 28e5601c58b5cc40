// A sink that passes writes on to another and wakes a waiter once a number of records has been
// acknowledged: a bench waits for the end of delivery without polling (a poll every 200 us took
// a tenth of a core, the core the node's thread needed).
#ifndef ESDB_BENCH_COMMON_COUNTED_SINK_H_
#define ESDB_BENCH_COMMON_COUNTED_SINK_H_

#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "absl/synchronization/notification.h"
#include "sinks/sink.h"

namespace esdb::bench {

class CountedSink : public Sink {
 public:
  // Notifies `done` once `target` records have been acknowledged; `done` outlives the sink.
  CountedSink(std::unique_ptr<Sink> inner, uint64_t target, absl::Notification* done)
      : inner_(std::move(inner)), left_(target), done_(done) {}

  SinkResult Write(std::span<const Record> records) override {
    SinkResult result = inner_->Write(records);
    if (result.outcome == SinkOutcome::kOk && left_ > 0) {
      left_ -= std::min<uint64_t>(left_, records.size());
      if (left_ == 0) done_->Notify();
    }
    return result;
  }
  absl::Status Flush() override { return inner_->Flush(); }

 private:
  std::unique_ptr<Sink> inner_;
  uint64_t left_;
  absl::Notification* done_;
};

}  // namespace esdb::bench

#endif  // ESDB_BENCH_COMMON_COUNTED_SINK_H_
