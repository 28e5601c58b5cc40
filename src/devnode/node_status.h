// Carrying node ABI statuses (esdb/node.h) through absl::Status inside the log node.
//
// The C ABI distinguishes codes that absl folds together (NOT_LEADER and UNAVAILABLE are both
// Unavailable), and a wrong-expected-version failure must report the stream's actual revision.
// Both travel as payloads on the absl::Status so that the C trampolines can restore them exactly.
#ifndef ESDB_DEVNODE_NODE_STATUS_H_
#define ESDB_DEVNODE_NODE_STATUS_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/abi_support.h"  // WriteError, for the trampolines that include this header
#include "esdb/node.h"

namespace esdb::devnode {

// A status with the canonical code for `status` (the mapping of esdb::NodeStatusToStatus:
// WRONG_EXPECTED_VERSION -> Aborted, STREAM_NOT_FOUND -> NotFound, STREAM_DELETED ->
// FailedPrecondition, NOT_LEADER/UNAVAILABLE -> Unavailable, INVALID_ARGUMENT -> InvalidArgument,
// ACCESS_DENIED -> PermissionDenied, anything else -> Internal) and the exact node status attached.
// ESDB_NODE_OK gives OkStatus().
absl::Status NodeError(esdb_node_status status, absl::string_view message);

// WRONG_EXPECTED_VERSION carrying the stream's current revision (-1: the stream does not exist).
absl::Status WrongExpectedVersion(absl::string_view stream, int64_t expected, int64_t actual);

// The node status for `status`: the attached one if any, else derived from the canonical code.
esdb_node_status ToNodeStatus(const absl::Status& status);

// The actual revision attached by WrongExpectedVersion(), if any.
std::optional<int64_t> ActualRevision(const absl::Status& status);

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_NODE_STATUS_H_
