#include "devnode/log_store.h"

#include "absl/strings/str_cat.h"
#include "devnode/node_status.h"
#include "esdb/node.h"

namespace esdb::devnode {

int64_t EffectiveRevision(const StreamInfo& info) {
  if (info.last_revision < 0) return -1;
  const std::optional<uint64_t>& tb = info.metadata.truncate_before;
  if (tb && *tb > static_cast<uint64_t>(info.last_revision)) return -1;
  return info.last_revision;
}

absl::Status CheckExpectedRevision(const std::string& stream, int64_t expected, int64_t current) {
  bool met = false;
  switch (expected) {
    case ESDB_EXPECT_ANY:
      met = true;
      break;
    case ESDB_EXPECT_NO_STREAM:
      met = current < 0;
      break;
    case ESDB_EXPECT_STREAM_EXISTS:
      met = current >= 0;
      break;
    default:
      if (expected < 0) {
        return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                         absl::StrCat("expected revision ", expected,
                                      " is neither a revision nor an ESDB_EXPECT_* value"));
      }
      met = expected == current;
  }
  if (met) return absl::OkStatus();
  return WrongExpectedVersion(stream, expected, current);
}

absl::Status CheckStreamWrite(const std::string& stream, const StreamInfo& info, int64_t expected) {
  if (info.tombstoned) {
    return NodeError(ESDB_NODE_STREAM_DELETED, absl::StrCat("stream '", stream, "' is deleted"));
  }
  return CheckExpectedRevision(stream, expected, EffectiveRevision(info));
}

}  // namespace esdb::devnode
