#include "devnode/log_node_test_util.h"

#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "devnode/c_abi.h"

namespace esdb::devnode::testing {

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kMemory ? "Memory" : "Sqlite";
}

std::string TempDbPath() {
  static std::atomic<int> counter{0};
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = test != nullptr ? absl::StrCat(test->test_suite_name(), "_", test->name())
                                     : std::string("lognode");
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return absl::StrCat(::testing::TempDir(), "lognode_", getpid(), "_", counter.fetch_add(1), "_",
                      name, ".db");
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::remove(absl::StrCat(path, suffix).c_str());
  }
}

LogNodeOptions LogNodeFixture::TestOptions() {
  LogNodeOptions options;
  options.read_batch = 4;
  options.http_endpoint = "127.0.0.1:2113";
  return options;
}

void LogNodeFixture::SetUp() {
  if (GetParam() == Backend::kSqlite) path_ = TempDbPath();
  node_ = OpenNode();
  ASSERT_NE(node_, nullptr);
}

void LogNodeFixture::TearDown() {
  node_.reset();
  if (!path_.empty()) RemoveDb(path_);
}

std::unique_ptr<LogNode> LogNodeFixture::OpenNode(LogNodeOptions options) {
  if (GetParam() == Backend::kMemory) return LogNode::InMemory(std::move(options));
  absl::StatusOr<std::unique_ptr<LogNode>> node = LogNode::OpenSqlite(path_, std::move(options));
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? *std::move(node) : nullptr;
}

AppendEvent Event(std::string type, std::string data, std::string id) {
  AppendEvent event;
  event.event_type = std::move(type);
  event.data = std::move(data);
  event.event_id = std::move(id);
  return event;
}

void AppendN(LogNode& node, const std::string& stream, int count, const std::string& type) {
  std::vector<AppendEvent> events;
  for (int i = 0; i < count; ++i) events.push_back(Event(type, absl::StrCat("{\"i\":", i, "}")));
  absl::StatusOr<AppendResult> result = node.Append(stream, ESDB_EXPECT_ANY, std::move(events));
  ASSERT_TRUE(result.ok()) << result.status();
}

CAppendOutcome CAppend(const esdb_node_api* api, const char* stream, int64_t expected,
                       const std::vector<AppendEvent>& events) {
  std::vector<esdb_event_data> data(events.size());
  std::vector<const esdb_event_data*> pointers;
  for (size_t i = 0; i < events.size(); ++i) {
    esdb_event_data& d = data[i];
    d.struct_size = sizeof(d);
    d.event_id = events[i].event_id.empty() ? nullptr : events[i].event_id.c_str();
    d.event_type = events[i].event_type.empty() ? nullptr : events[i].event_type.c_str();
    d.content_type = events[i].content_type.c_str();
    d.data = reinterpret_cast<const uint8_t*>(events[i].data.data());
    d.data_size = events[i].data.size();
    d.metadata = reinterpret_cast<const uint8_t*>(events[i].metadata.data());
    d.metadata_size = events[i].metadata.size();
    pointers.push_back(&d);
  }
  CAppendOutcome out;
  out.result.struct_size = sizeof(out.result);
  out.result.actual_revision = -99;  // a value the node never reports
  char err[256] = "untouched";
  out.status = api->append(api->ctx, stream, expected, pointers.data(), pointers.size(),
                           &out.result, err, sizeof(err));
  out.err = err;
  return out;
}

CReadOutcome CRead(const esdb_node_api* api, const char* stream, int32_t direction,
                   uint64_t from_revision, uint64_t max_count, int stop_after) {
  struct State {
    CReadOutcome* out;
    int stop_after;
  };
  CReadOutcome out;
  State state{&out, stop_after};
  char err[256] = "";
  out.status = api->read_stream(
      api->ctx, stream, direction, from_revision, max_count,
      [](void* user, const esdb_recorded_event* event) -> int {
        auto* s = static_cast<State*>(user);
        s->out->events.push_back(FromCEvent(*event));
        return s->stop_after > 0 && static_cast<int>(s->out->events.size()) >= s->stop_after;
      },
      &state, err, sizeof(err));
  out.err = err;
  return out;
}

std::vector<uint64_t> Revisions(const std::vector<RecordedEvent>& events) {
  std::vector<uint64_t> out;
  for (const RecordedEvent& e : events) out.push_back(e.revision);
  return out;
}

std::vector<uint64_t> Positions(const std::vector<RecordedEvent>& events) {
  std::vector<uint64_t> out;
  for (const RecordedEvent& e : events) out.push_back(e.position);
  return out;
}

esdb_subscribe_options SubscribeOptions(int32_t from, uint64_t position) {
  esdb_subscribe_options options{};
  options.struct_size = sizeof(options);
  options.from = from;
  options.position = esdb_position{position, position};
  options.filter_scope = ESDB_FILTER_NONE;
  return options;
}

esdb_subscription_callbacks Recorder::Callbacks() {
  esdb_subscription_callbacks callbacks{};
  callbacks.struct_size = sizeof(callbacks);
  callbacks.user = this;
  callbacks.on_events = &Recorder::OnEvents;
  callbacks.on_checkpoint = &Recorder::OnCheckpoint;
  callbacks.on_caught_up = &Recorder::OnCaughtUp;
  callbacks.on_dropped = &Recorder::OnDropped;
  return callbacks;
}

esdb_subscription* Recorder::Subscribe(const esdb_node_api* api,
                                       const esdb_subscribe_options& options) {
  esdb_subscription_callbacks callbacks = Callbacks();
  esdb_subscription* subscription = nullptr;
  char err[256] = "";
  esdb_node_status status =
      api->subscribe_all(api->ctx, &options, &callbacks, &subscription, err, sizeof(err));
  EXPECT_EQ(status, ESDB_NODE_OK) << err;
  EXPECT_NE(subscription, nullptr);
  return subscription;
}

void Recorder::Enter() {
  if (in_callback_.fetch_add(1) != 0) overlaps_.fetch_add(1);
}

void Recorder::Add(Call call) {
  absl::MutexLock lock(&mu_);
  calls_.push_back(std::move(call));
  changed_.SignalAll();
}

void Recorder::OnEvents(void* user, const esdb_recorded_event* const* events, size_t count) {
  auto* self = static_cast<Recorder*>(user);
  self->Enter();
  Call call{Call::kEvents};
  for (size_t i = 0; i < count; ++i) call.events.push_back(FromCEvent(*events[i]));
  self->Add(std::move(call));
  if (self->throw_next_.exchange(false)) {
    self->Leave();
    throw std::runtime_error("recorder was told to throw");
  }
  {
    absl::MutexLock lock(&self->mu_);
    if (self->block_) {
      self->blocked_ = true;
      self->changed_.SignalAll();
      while (self->block_) self->changed_.Wait(&self->mu_);
      self->blocked_ = false;
    }
  }
  self->Leave();
}

void Recorder::OnCheckpoint(void* user, esdb_position position) {
  auto* self = static_cast<Recorder*>(user);
  self->Enter();
  self->Add(Call{Call::kCheckpoint, {}, position.commit});
  self->Leave();
}

void Recorder::OnCaughtUp(void* user, esdb_position position) {
  auto* self = static_cast<Recorder*>(user);
  self->Enter();
  self->Add(Call{Call::kCaughtUp, {}, position.commit});
  self->Leave();
}

void Recorder::OnDropped(void* user, esdb_node_status status, const char* message) {
  auto* self = static_cast<Recorder*>(user);
  self->Enter();
  self->Add(Call{Call::kDropped, {}, 0, status, message != nullptr ? message : ""});
  self->Leave();
}

bool Recorder::WaitUntil(const std::function<bool(const std::vector<Call>&)>& done,
                         absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!done(calls_)) {
    if (changed_.WaitWithDeadline(&mu_, deadline) && !done(calls_)) return false;
  }
  return true;
}

bool Recorder::WaitForEventCount(size_t n, absl::Duration timeout) {
  return WaitUntil(
      [n](const std::vector<Call>& calls) {
        size_t seen = 0;
        for (const Call& c : calls) seen += c.events.size();
        return seen >= n;
      },
      timeout);
}

bool Recorder::WaitForCaughtUp(absl::Duration timeout) {
  return WaitUntil(
      [](const std::vector<Call>& calls) {
        for (const Call& c : calls) {
          if (c.kind == Call::kCaughtUp) return true;
        }
        return false;
      },
      timeout);
}

bool Recorder::WaitForDropped(absl::Duration timeout) {
  return WaitUntil(
      [](const std::vector<Call>& calls) {
        return !calls.empty() && calls.back().kind == Call::kDropped;
      },
      timeout);
}

std::vector<Recorder::Call> Recorder::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<RecordedEvent> Recorder::events() const {
  absl::MutexLock lock(&mu_);
  std::vector<RecordedEvent> out;
  for (const Call& c : calls_) out.insert(out.end(), c.events.begin(), c.events.end());
  return out;
}

std::vector<uint64_t> Recorder::checkpoints() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  for (const Call& c : calls_) {
    if (c.kind == Call::kCheckpoint) out.push_back(c.position);
  }
  return out;
}

size_t Recorder::call_count() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

void Recorder::BlockEvents() {
  absl::MutexLock lock(&mu_);
  block_ = true;
}

bool Recorder::WaitUntilBlocked(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (!blocked_) {
    if (changed_.WaitWithDeadline(&mu_, deadline) && !blocked_) return false;
  }
  return true;
}

void Recorder::Release() {
  absl::MutexLock lock(&mu_);
  block_ = false;
  changed_.SignalAll();
}

}  // namespace esdb::devnode::testing
