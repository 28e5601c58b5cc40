#include "devnode/reader_pool.h"

#include <utility>

namespace esdb::devnode {

absl::StatusOr<ReaderPool::Lease> ReaderPool::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<LogReader> reader = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(reader));
    }
  }
  // Opening may do I/O: not under the lock.
  absl::StatusOr<std::unique_ptr<LogReader>> reader = store_->OpenReader();
  if (!reader.ok()) return reader.status();
  return Lease(this, *std::move(reader));
}

void ReaderPool::Return(std::unique_ptr<LogReader> reader) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(reader));
  // A surplus reader is closed on return.
}

}  // namespace esdb::devnode
