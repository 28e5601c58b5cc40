#include "sinks/fsync_counter.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace {
std::atomic<int64_t> fdatasync_calls{0};
}  // namespace

// The executable is linked with exported symbols, so this definition comes first in the global
// lookup scope and a dlopen()ed plugin's fdatasync() binds here instead of to libc's.
extern "C" __attribute__((visibility("default"))) int fdatasync(int fd) noexcept {
  fdatasync_calls.fetch_add(1);
  return static_cast<int>(syscall(SYS_fdatasync, fd));
}

namespace esdb::testing {

int64_t FdatasyncCalls() { return fdatasync_calls.load(); }

}  // namespace esdb::testing
