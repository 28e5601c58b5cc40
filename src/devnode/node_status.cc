#include "devnode/node_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace esdb::devnode {
namespace {

constexpr char kNodeStatusUrl[] = "esdb.devnode/node_status";
constexpr char kActualRevisionUrl[] = "esdb.devnode/actual_revision";

absl::StatusCode CanonicalCode(esdb_node_status status) {
  switch (status) {
    case ESDB_NODE_WRONG_EXPECTED_VERSION:
      return absl::StatusCode::kAborted;
    case ESDB_NODE_STREAM_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case ESDB_NODE_STREAM_DELETED:
      return absl::StatusCode::kFailedPrecondition;
    case ESDB_NODE_NOT_LEADER:
    case ESDB_NODE_UNAVAILABLE:
      return absl::StatusCode::kUnavailable;
    case ESDB_NODE_INVALID_ARGUMENT:
      return absl::StatusCode::kInvalidArgument;
    case ESDB_NODE_ACCESS_DENIED:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::optional<int64_t> IntPayload(const absl::Status& status, absl::string_view url) {
  absl::optional<absl::Cord> payload = status.GetPayload(url);
  int64_t value = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &value)) return std::nullopt;
  return value;
}

}  // namespace

absl::Status NodeError(esdb_node_status status, absl::string_view message) {
  if (status == ESDB_NODE_OK) return absl::OkStatus();
  absl::Status result(CanonicalCode(status), message);
  result.SetPayload(kNodeStatusUrl, absl::Cord(absl::StrCat(status)));
  return result;
}

absl::Status WrongExpectedVersion(absl::string_view stream, int64_t expected, int64_t actual) {
  absl::Status result = NodeError(ESDB_NODE_WRONG_EXPECTED_VERSION,
                                  absl::StrCat("wrong expected version for stream '", stream,
                                               "': expected ", expected, ", actual ", actual));
  result.SetPayload(kActualRevisionUrl, absl::Cord(absl::StrCat(actual)));
  return result;
}

esdb_node_status ToNodeStatus(const absl::Status& status) {
  if (status.ok()) return ESDB_NODE_OK;
  if (std::optional<int64_t> attached = IntPayload(status, kNodeStatusUrl)) {
    return static_cast<esdb_node_status>(*attached);
  }
  switch (status.code()) {
    case absl::StatusCode::kAborted:
      return ESDB_NODE_WRONG_EXPECTED_VERSION;
    case absl::StatusCode::kNotFound:
      return ESDB_NODE_STREAM_NOT_FOUND;
    case absl::StatusCode::kFailedPrecondition:
      return ESDB_NODE_STREAM_DELETED;
    case absl::StatusCode::kUnavailable:
      return ESDB_NODE_UNAVAILABLE;
    case absl::StatusCode::kInvalidArgument:
      return ESDB_NODE_INVALID_ARGUMENT;
    case absl::StatusCode::kPermissionDenied:
      return ESDB_NODE_ACCESS_DENIED;
    default:
      return ESDB_NODE_ERROR;
  }
}

std::optional<int64_t> ActualRevision(const absl::Status& status) {
  return IntPayload(status, kActualRevisionUrl);
}

}  // namespace esdb::devnode
