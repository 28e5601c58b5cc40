// The C++ face of the node ABI (esdb/node.h). Nothing else in the library sees the C pointers.
#ifndef ESDB_NODE_NODE_CLIENT_H_
#define ESDB_NODE_NODE_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/filter.h"
#include "core/record.h"
#include "core/record_block.h"
#include "esdb/node.h"

namespace esdb {

// Node status -> absl::Status:
//   WRONG_EXPECTED_VERSION -> Aborted (a concurrency conflict), STREAM_NOT_FOUND -> NotFound,
//   STREAM_DELETED -> FailedPrecondition, NOT_LEADER/UNAVAILABLE -> Unavailable,
//   INVALID_ARGUMENT -> InvalidArgument, ACCESS_DENIED -> PermissionDenied, else Internal.
absl::Status NodeStatusToStatus(esdb_node_status status, const std::string& message);

struct AppendResult {
  uint64_t revision = 0;  // revision of the last event written
  Position position;
};

enum class Direction { kForwards, kBackwards };

struct Member {
  std::string id;
  int32_t role = ESDB_ROLE_OTHER;  // ESDB_ROLE_*
  bool alive = false;
  std::string http_endpoint;
};

struct Membership {
  std::vector<Member> members;
  std::string self_id;
};

// The member id of a host whose node table has no get_members: a single node, the leader.
inline constexpr char kSingleNodeMemberId[] = "local";

struct SubscribeOptions {
  enum class From { kStart, kEnd, kPosition } from = From::kStart;
  Position position;  // events strictly after it, for kPosition
  ServerFilter filter;
  uint32_t checkpoint_interval = 0;  // 0: node default
};

// Receives one subscription's callbacks, one at a time, on a node thread.
class SubscriptionHandler {
 public:
  virtual ~SubscriptionHandler() = default;
  virtual void OnEvents(std::vector<Record> events) = 0;  // may block (back-pressure)
  // The node's events as the subscription copied them: one buffer for the whole callback. The
  // default makes a Record of each and calls OnEvents(); a handler that queues events for
  // another thread takes the block as it is, and so spends less of the node's thread.
  virtual void OnEventBlock(RecordBlock block);
  virtual void OnCheckpoint(Position position) = 0;
  virtual void OnCaughtUp(Position position) = 0;
  virtual void OnDropped(absl::Status why) = 0;
};

// Ends the subscription when destroyed (the handler must make a blocked OnEvents return first).
class Subscription {
 public:
  virtual ~Subscription() = default;
};

// Stops watching membership when destroyed.
class MembershipWatch {
 public:
  virtual ~MembershipWatch() = default;
};

class NodeClient {
 public:
  // `api` must outlive the client.
  explicit NodeClient(const esdb_node_api* api) : api_(api) {}

  absl::StatusOr<AppendResult> Append(const std::string& stream, int64_t expected_revision,
                                      std::span<const EventData> events) const;

  // Calls on_record for each event; stops early when it returns false.
  absl::Status ReadStream(const std::string& stream, Direction direction, uint64_t from_revision,
                          uint64_t max_count,
                          const std::function<bool(const Record&)>& on_record) const;
  // Convenience: all events read into a vector. NotFound for a missing stream.
  absl::StatusOr<std::vector<Record>> ReadStreamEvents(const std::string& stream,
                                                       Direction direction,
                                                       uint64_t from_revision,
                                                       uint64_t max_count) const;

  // `handler` must outlive the returned Subscription.
  absl::StatusOr<std::unique_ptr<Subscription>> SubscribeAll(const SubscribeOptions& options,
                                                             SubscriptionHandler* handler) const;

  absl::StatusOr<Position> LastPosition() const;
  // Unimplemented when the node does not offer it.
  absl::StatusOr<std::string> GetStreamMetadata(const std::string& stream) const;
  absl::Status SetStreamMetadata(const std::string& stream, const std::string& json) const;
  // A node without get_members is one leader with the id kSingleNodeMemberId.
  absl::StatusOr<Membership> GetMembers() const;
  // Calls `changed` (on a node thread) whenever membership or roles change. `changed` must not
  // destroy the returned watch.
  absl::StatusOr<std::unique_ptr<MembershipWatch>> WatchMembers(std::function<void()> changed) const;

  void Log(int32_t level, const std::string& message) const;

  const esdb_node_api* api() const { return api_; }

 private:
  const esdb_node_api* api_;
};

}  // namespace esdb

#endif  // ESDB_NODE_NODE_CLIENT_H_
