// An in-memory node behind the C node table, for delivery tests with many subscriptions: one
// thread serves every subscription (like a node with a shared tail), so a test can count the
// library's own threads, and it counts subscriptions so flow control can be observed. It offers
// what runners use: append with an expected revision, read_stream, subscribe_all (prefix or RE2
// regex filters, checkpoint, caught-up and idle notices like the dev node), last_position,
// stream metadata (accepted, not kept). Positions are 1, 2, 3, ... (commit == prepare).
#ifndef ESDB_DELIVERY_TEST_NODE_H_
#define ESDB_DELIVERY_TEST_NODE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/position.h"
#include "esdb/node.h"

namespace esdb::testing {

class TestNode {
 public:
  TestNode();
  ~TestNode();
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  const esdb_node_api* api() const { return &api_; }

  // Appends `count` events of `type` to `stream` without a revision check; returns the position
  // of the last one.
  Position Append(const std::string& stream, int count, const std::string& type = "Tested");
  Position LastPosition() const ABSL_LOCKS_EXCLUDED(mu_);

  // subscribe_all calls so far, and subscriptions not ended.
  int subscribes() const ABSL_LOCKS_EXCLUDED(mu_);
  int live_subscriptions() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until `live_subscriptions() == n`; false after `timeout`.
  bool WaitForLiveSubscriptions(int n, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Event {
    std::string stream;
    uint64_t revision = 0;
    uint64_t position = 0;
    std::string event_id;
    std::string event_type;
    std::string content_type;
    std::string data;
    std::string metadata;
  };
  struct Sub;
  // What the pump hands one subscription in one go.
  struct Work {
    std::vector<Event> events;
    std::optional<uint64_t> checkpoint;
    std::optional<uint64_t> caught_up;
    bool empty() const { return events.empty() && !checkpoint && !caught_up; }
  };

  static esdb_node_status AppendC(void* ctx, const char* stream, int64_t expected,
                                  const esdb_event_data* const* events, size_t count,
                                  esdb_append_result* result, char* err, size_t err_size);
  static esdb_node_status ReadC(void* ctx, const char* stream, int32_t direction, uint64_t from,
                                uint64_t max_count, esdb_read_event_fn on_event, void* user,
                                char* err, size_t err_size);
  static esdb_node_status SubscribeC(void* ctx, const esdb_subscribe_options* options,
                                     const esdb_subscription_callbacks* callbacks,
                                     esdb_subscription** out, char* err, size_t err_size);
  static void UnsubscribeC(void* ctx, esdb_subscription* subscription);
  static esdb_node_status LastPositionC(void* ctx, esdb_position* out, char* err, size_t err_size);
  static esdb_node_status GetMetadataC(void* ctx, const char* stream,
                                       void (*on_json)(void*, const char*, size_t), void* user,
                                       char* err, size_t err_size);
  static esdb_node_status SetMetadataC(void* ctx, const char* stream, const char* json, char* err,
                                       size_t err_size);

  esdb_node_status DoAppend(const std::string& stream, int64_t expected, std::vector<Event> events,
                            esdb_append_result* result) ABSL_LOCKS_EXCLUDED(mu_);
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);
  Work NextWork(Sub& sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Deliver(const Sub& sub, const Work& work);

  esdb_node_api api_{};
  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<Event> log_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<uint64_t>> streams_ ABSL_GUARDED_BY(mu_);  // positions
  std::vector<std::shared_ptr<Sub>> subs_ ABSL_GUARDED_BY(mu_);
  const Sub* in_callback_ ABSL_GUARDED_BY(mu_) = nullptr;
  int subscribes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread pump_;
};

}  // namespace esdb::testing

#endif  // ESDB_DELIVERY_TEST_NODE_H_
