// The in-memory log: the node behind the library's unit tests. Fast, deterministic, gone with
// the process.
#ifndef ESDB_DEVNODE_MEMORY_STORE_H_
#define ESDB_DEVNODE_MEMORY_STORE_H_

#include <memory>

#include "devnode/log_store.h"

namespace esdb::devnode {

std::unique_ptr<LogStore> NewMemoryStore();

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_MEMORY_STORE_H_
