// Shared helpers of the log node tests: a fixture over both stores, C-ABI call helpers and a
// subscription recorder that waits with deadlines instead of sleeping.
#ifndef ESDB_DEVNODE_LOG_NODE_TEST_UTIL_H_
#define ESDB_DEVNODE_LOG_NODE_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "devnode/log_node.h"
#include "esdb/node.h"
#include "gtest/gtest.h"

namespace esdb::devnode::testing {

enum class Backend { kMemory, kSqlite };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

// A fresh, unique database path under the test temp dir (nothing created yet).
std::string TempDbPath();
// Removes the database file and its -wal/-shm companions.
void RemoveDb(const std::string& path);

class LogNodeFixture : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Options used by SetUp: a small read batch so batching is exercised everywhere.
  static LogNodeOptions TestOptions();
  // Opens a node over this test's store; for SQLite the same file every time.
  std::unique_ptr<LogNode> OpenNode(LogNodeOptions options = TestOptions());

  const esdb_node_api* api() const { return node_->api(); }

  std::string path_;
  std::unique_ptr<LogNode> node_;
};

AppendEvent Event(std::string type, std::string data = "{}", std::string id = "");

// Appends `count` events of `type` with EXPECT_ANY; fails the test on error.
void AppendN(LogNode& node, const std::string& stream, int count, const std::string& type = "t");

// The C append, with events converted from AppendEvent; `err` receives the error text.
struct CAppendOutcome {
  esdb_node_status status = ESDB_NODE_OK;
  esdb_append_result result{};
  std::string err;
};
CAppendOutcome CAppend(const esdb_node_api* api, const char* stream, int64_t expected,
                       const std::vector<AppendEvent>& events);

// The C read_stream; events are copied. stop_after > 0: the callback asks to stop after that
// many events.
struct CReadOutcome {
  esdb_node_status status = ESDB_NODE_OK;
  std::vector<RecordedEvent> events;
  std::string err;
};
CReadOutcome CRead(const esdb_node_api* api, const char* stream, int32_t direction,
                   uint64_t from_revision, uint64_t max_count, int stop_after = 0);

std::vector<uint64_t> Revisions(const std::vector<RecordedEvent>& events);
std::vector<uint64_t> Positions(const std::vector<RecordedEvent>& events);

constexpr absl::Duration kWait = absl::Seconds(20);

// Records the callbacks of one subscription. Every record is appended to `calls` so tests can
// check the order of events, checkpoints and caught-up. Can block on_events until released.
class Recorder {
 public:
  struct Call {
    enum Kind { kEvents, kCheckpoint, kCaughtUp, kDropped } kind;
    std::vector<RecordedEvent> events;       // kEvents
    uint64_t position = 0;                   // kCheckpoint, kCaughtUp
    esdb_node_status status = ESDB_NODE_OK;  // kDropped
    std::string message;                     // kDropped
  };

  esdb_subscription_callbacks Callbacks();

  // Subscribes through `api`; fails the test on error.
  esdb_subscription* Subscribe(const esdb_node_api* api, const esdb_subscribe_options& options);

  // Waits until `done` holds over the calls so far (checked after every call); false on timeout.
  bool WaitUntil(const std::function<bool(const std::vector<Call>&)>& done,
                 absl::Duration timeout = kWait);
  bool WaitForEventCount(size_t n, absl::Duration timeout = kWait);
  bool WaitForCaughtUp(absl::Duration timeout = kWait);
  bool WaitForDropped(absl::Duration timeout = kWait);

  std::vector<Call> calls() const;
  std::vector<RecordedEvent> events() const;
  std::vector<uint64_t> checkpoints() const;
  size_t call_count() const;

  // From now on on_events blocks (after recording its events) until Release().
  void BlockEvents();
  // Waits until an on_events call is blocked.
  bool WaitUntilBlocked(absl::Duration timeout = kWait);
  void Release();

  // Non-zero if two callbacks ever ran at once, or one ran while another was running.
  int overlaps() const { return overlaps_.load(); }
  int in_callback() const { return in_callback_.load(); }
  // Makes the next on_events throw std::runtime_error.
  void ThrowOnNextEvents() { throw_next_.store(true); }

 private:
  static void OnEvents(void* user, const esdb_recorded_event* const* events, size_t count);
  static void OnCheckpoint(void* user, esdb_position position);
  static void OnCaughtUp(void* user, esdb_position position);
  static void OnDropped(void* user, esdb_node_status status, const char* message);
  void Add(Call call);
  void Enter();
  void Leave() { in_callback_.fetch_sub(1); }

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  bool block_ ABSL_GUARDED_BY(mu_) = false;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> in_callback_{0};
  std::atomic<int> overlaps_{0};
  std::atomic<bool> throw_next_{false};
};

esdb_subscribe_options SubscribeOptions(int32_t from = ESDB_FROM_START, uint64_t position = 0);

}  // namespace esdb::devnode::testing

#endif  // ESDB_DEVNODE_LOG_NODE_TEST_UTIL_H_
