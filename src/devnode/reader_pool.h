// Store readers shared by the node's one-shot reads (read_stream, metadata, ReadAll), which come
// from any thread. SQLite readers are connections, worth keeping rather than reopening per call.
#ifndef ESDB_DEVNODE_READER_POOL_H_
#define ESDB_DEVNODE_READER_POOL_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "devnode/log_store.h"

namespace esdb::devnode {

class ReaderPool {
 public:
  // `store` must outlive the pool. At most `max_idle` readers are kept between uses.
  ReaderPool(LogStore* store, size_t max_idle) : store_(store), max_idle_(max_idle) {}

  // A reader owned by one caller until the lease is destroyed, when it returns to the pool.
  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<LogReader> reader)
        : pool_(pool), reader_(std::move(reader)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (reader_ != nullptr) pool_->Return(std::move(reader_));
    }
    LogReader* operator->() const { return reader_.get(); }

   private:
    ReaderPool* pool_;
    std::unique_ptr<LogReader> reader_;
  };

  // An idle reader, or a new one. Thread-safe.
  absl::StatusOr<Lease> Borrow();

 private:
  void Return(std::unique_ptr<LogReader> reader);

  LogStore* const store_;
  const size_t max_idle_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<LogReader>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_READER_POOL_H_
