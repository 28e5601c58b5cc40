// Process-wide settings every host binary (esdb-devnode, esdb-connectors-sidecar) and every
// benchmark that stands for one applies first thing in main().
#ifndef ESDB_HOSTING_PROCESS_H_
#define ESDB_HOSTING_PROCESS_H_

#include "absl/synchronization/mutex.h"

namespace esdb::hosting {

// Debian builds Abseil without NDEBUG, so absl::Mutex checks every acquisition for lock-order
// cycles by default: a graph of all mutexes behind one process-wide lock, taken on every lock
// of every mutex. The unit tests keep that check (it finds lock-order bugs); a server does not
// pay for it.
inline void ConfigureHostProcess() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace esdb::hosting

#endif  // ESDB_HOSTING_PROCESS_H_
