#include "delivery/test_node.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/abi_support.h"
#include "re2/re2.h"

namespace esdb::testing {
namespace {

constexpr size_t kReadBatch = 100;

std::string Text(const uint8_t* data, size_t size) {
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace

struct TestNode::Sub {
  esdb_subscription_callbacks callbacks{};
  int32_t scope = ESDB_FILTER_NONE;
  std::unique_ptr<RE2> regex;
  std::vector<std::string> prefixes;
  uint32_t interval = 1000;
  // Pump thread only.
  uint64_t cursor = 0;  // position of the last event scanned
  uint64_t scanned = 0;
  uint64_t noticed = 0;  // position of the last checkpoint or caught-up notice
  bool caught_up = false;
  // Under mu_.
  bool ended = false;

  bool Matches(const Event& e) const {
    if (scope == ESDB_FILTER_NONE) return true;
    const std::string& subject = scope == ESDB_FILTER_STREAM ? e.stream : e.event_type;
    if (regex == nullptr && prefixes.empty()) return true;
    if (regex != nullptr && RE2::PartialMatch(subject, *regex)) return true;
    for (const std::string& p : prefixes) {
      if (subject.starts_with(p)) return true;
    }
    return false;
  }
};

TestNode::TestNode() {
  api_.struct_size = sizeof api_;
  api_.abi_version = ESDB_NODE_ABI_VERSION;
  api_.ctx = this;
  api_.node_version = "test";
  api_.append = &AppendC;
  api_.read_stream = &ReadC;
  api_.subscribe_all = &SubscribeC;
  api_.unsubscribe_all = &UnsubscribeC;
  api_.last_position = &LastPositionC;
  api_.get_stream_metadata = &GetMetadataC;
  api_.set_stream_metadata = &SetMetadataC;
  pump_ = std::thread([this] { Pump(); });
}

TestNode::~TestNode() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  pump_.join();
}

Position TestNode::Append(const std::string& stream, int count, const std::string& type) {
  std::vector<Event> events(count);
  for (int i = 0; i < count; ++i) {
    events[i].event_type = type;
    events[i].content_type = "application/json";
    events[i].data = absl::StrCat(R"({"n":)", i, "}");
  }
  esdb_append_result r{};
  DoAppend(stream, ESDB_EXPECT_ANY, std::move(events), &r);
  return Position{r.position.commit, r.position.prepare};
}

Position TestNode::LastPosition() const {
  absl::MutexLock lock(&mu_);
  return Position{log_.size(), log_.size()};
}

int TestNode::subscribes() const {
  absl::MutexLock lock(&mu_);
  return subscribes_;
}

int TestNode::live_subscriptions() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(subs_.size());
}

bool TestNode::WaitForLiveSubscriptions(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(subs_.size()) == n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

esdb_node_status TestNode::DoAppend(const std::string& stream, int64_t expected,
                                    std::vector<Event> events, esdb_append_result* result) {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t>& positions = streams_[stream];
  int64_t current = static_cast<int64_t>(positions.size()) - 1;
  bool ok = expected == ESDB_EXPECT_ANY || (expected == ESDB_EXPECT_NO_STREAM && current < 0) ||
            (expected == ESDB_EXPECT_STREAM_EXISTS && current >= 0) ||
            (expected >= 0 && expected == current);
  if (!ok) {
    if (positions.empty()) streams_.erase(stream);
    if (result != nullptr) result->actual_revision = current;
    return ESDB_NODE_WRONG_EXPECTED_VERSION;
  }
  for (Event& e : events) {
    e.stream = stream;
    e.revision = positions.size();
    e.position = log_.size() + 1;
    e.event_id = absl::StrCat("00000000-0000-4000-8000-", absl::Hex(e.position, absl::kZeroPad12));
    positions.push_back(e.position);
    log_.push_back(std::move(e));
  }
  if (result != nullptr) {
    result->next_expected_revision = positions.size() - 1;
    result->position = {log_.size(), log_.size()};
  }
  changed_.SignalAll();
  return ESDB_NODE_OK;
}

esdb_node_status TestNode::AppendC(void* ctx, const char* stream, int64_t expected,
                                   const esdb_event_data* const* events, size_t count,
                                   esdb_append_result* result, char* err, size_t err_size) {
  std::vector<Event> copies(count);
  for (size_t i = 0; i < count; ++i) {
    const esdb_event_data& d = *events[i];
    copies[i].event_type = d.event_type != nullptr ? d.event_type : "";
    copies[i].content_type = d.content_type != nullptr ? d.content_type : "";
    copies[i].data = Text(d.data, d.data_size);
    copies[i].metadata = Text(d.metadata, d.metadata_size);
  }
  esdb_node_status s =
      static_cast<TestNode*>(ctx)->DoAppend(stream, expected, std::move(copies), result);
  if (s != ESDB_NODE_OK) WriteError(err, err_size, "wrong expected version");
  return s;
}

esdb_node_status TestNode::ReadC(void* ctx, const char* stream, int32_t direction, uint64_t from,
                                 uint64_t max_count, esdb_read_event_fn on_event, void* user,
                                 char* err, size_t err_size) {
  auto* self = static_cast<TestNode*>(ctx);
  std::vector<Event> events;
  {
    absl::MutexLock lock(&self->mu_);
    auto it = self->streams_.find(stream);
    if (it == self->streams_.end()) {
      WriteError(err, err_size, "stream not found");
      return ESDB_NODE_STREAM_NOT_FOUND;
    }
    const std::vector<uint64_t>& positions = it->second;
    if (direction == ESDB_READ_FORWARDS) {
      for (uint64_t r = from; r < positions.size() && events.size() < max_count; ++r) {
        events.push_back(self->log_[positions[r] - 1]);
      }
    } else {
      uint64_t r = std::min<uint64_t>(from, positions.size() - 1) + 1;
      while (r-- > 0 && events.size() < max_count) events.push_back(self->log_[positions[r] - 1]);
    }
  }
  for (const Event& e : events) {
    esdb_recorded_event c{};
    c.struct_size = sizeof c;
    c.stream = e.stream.c_str();
    c.revision = e.revision;
    c.position = {e.position, e.position};
    c.event_id = e.event_id.c_str();
    c.event_type = e.event_type.c_str();
    c.content_type = e.content_type.c_str();
    c.data = reinterpret_cast<const uint8_t*>(e.data.data());
    c.data_size = e.data.size();
    c.metadata = reinterpret_cast<const uint8_t*>(e.metadata.data());
    c.metadata_size = e.metadata.size();
    if (on_event(user, &c) != 0) break;
  }
  return ESDB_NODE_OK;
}

esdb_node_status TestNode::SubscribeC(void* ctx, const esdb_subscribe_options* options,
                                      const esdb_subscription_callbacks* callbacks,
                                      esdb_subscription** out, char* err, size_t err_size) {
  auto* self = static_cast<TestNode*>(ctx);
  auto sub = std::make_shared<Sub>();
  sub->callbacks = *callbacks;
  sub->scope = options->filter_scope;
  if (options->filter_scope != ESDB_FILTER_NONE) {
    if (options->filter_regex != nullptr) {
      sub->regex = std::make_unique<RE2>(options->filter_regex);
      if (!sub->regex->ok()) {
        WriteError(err, err_size, "bad regex");
        return ESDB_NODE_INVALID_ARGUMENT;
      }
    }
    for (size_t i = 0; i < options->filter_prefix_count; ++i) {
      sub->prefixes.emplace_back(options->filter_prefixes[i]);
    }
  }
  if (options->checkpoint_interval != 0) sub->interval = options->checkpoint_interval;
  absl::MutexLock lock(&self->mu_);
  switch (options->from) {
    case ESDB_FROM_START:
      sub->cursor = 0;
      break;
    case ESDB_FROM_END:
      sub->cursor = self->log_.size();
      break;
    default:
      sub->cursor = options->position.commit;
      break;
  }
  sub->noticed = sub->cursor;
  self->subs_.push_back(sub);
  ++self->subscribes_;
  *out = reinterpret_cast<esdb_subscription*>(sub.get());
  self->changed_.SignalAll();
  return ESDB_NODE_OK;
}

void TestNode::UnsubscribeC(void* ctx, esdb_subscription* subscription) {
  auto* self = static_cast<TestNode*>(ctx);
  auto* sub = reinterpret_cast<Sub*>(subscription);
  absl::MutexLock lock(&self->mu_);
  sub->ended = true;
  // When this returns no callback of the subscription runs, as the ABI promises.
  auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->in_callback_ != sub; };
  self->mu_.Await(absl::Condition(&idle));
  auto& subs = self->subs_;
  subs.erase(std::remove_if(subs.begin(), subs.end(),
                            [sub](const std::shared_ptr<Sub>& s) { return s.get() == sub; }),
             subs.end());
}

esdb_node_status TestNode::LastPositionC(void* ctx, esdb_position* out, char*, size_t) {
  Position p = static_cast<TestNode*>(ctx)->LastPosition();
  *out = {p.commit, p.prepare};
  return ESDB_NODE_OK;
}

esdb_node_status TestNode::GetMetadataC(void*, const char*,
                                        void (*on_json)(void*, const char*, size_t), void* user,
                                        char*, size_t) {
  on_json(user, "{}", 2);
  return ESDB_NODE_OK;
}

esdb_node_status TestNode::SetMetadataC(void*, const char*, const char*, char*, size_t) {
  return ESDB_NODE_OK;
}

TestNode::Work TestNode::NextWork(Sub& sub) {
  Work w;
  if (sub.cursor < log_.size()) {
    // Scan a batch; a checkpoint notice ends it early, after the events matched before it.
    uint64_t end = std::min<uint64_t>(sub.cursor + kReadBatch, log_.size());
    while (sub.cursor < end) {
      const Event& e = log_[sub.cursor];
      sub.cursor = e.position;
      if (sub.Matches(e)) w.events.push_back(e);
      if (++sub.scanned % sub.interval == 0) {
        w.checkpoint = sub.noticed = e.position;
        break;
      }
    }
    return w;
  }
  if (!sub.caught_up) {
    sub.caught_up = true;
    w.caught_up = sub.noticed = sub.cursor;
  } else if (sub.cursor > sub.noticed) {
    // Live and idle after scanning: say how far, as the dev node does.
    w.checkpoint = sub.noticed = sub.cursor;
  }
  return w;
}

void TestNode::Deliver(const Sub& sub, const Work& w) {
  const esdb_subscription_callbacks& cb = sub.callbacks;
  if (!w.events.empty()) {
    std::vector<esdb_recorded_event> views(w.events.size());
    std::vector<const esdb_recorded_event*> pointers;
    for (size_t i = 0; i < w.events.size(); ++i) {
      const Event& e = w.events[i];
      esdb_recorded_event& c = views[i];
      c.struct_size = sizeof c;
      c.stream = e.stream.c_str();
      c.revision = e.revision;
      c.position = {e.position, e.position};
      c.event_id = e.event_id.c_str();
      c.event_type = e.event_type.c_str();
      c.content_type = e.content_type.c_str();
      c.data = reinterpret_cast<const uint8_t*>(e.data.data());
      c.data_size = e.data.size();
      c.metadata = reinterpret_cast<const uint8_t*>(e.metadata.data());
      c.metadata_size = e.metadata.size();
      pointers.push_back(&c);
    }
    cb.on_events(cb.user, pointers.data(), pointers.size());
  }
  if (w.checkpoint && cb.on_checkpoint != nullptr)
    cb.on_checkpoint(cb.user, {*w.checkpoint, *w.checkpoint});
  if (w.caught_up && cb.on_caught_up != nullptr)
    cb.on_caught_up(cb.user, {*w.caught_up, *w.caught_up});
}

void TestNode::Pump() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    bool worked = false;
    std::vector<std::shared_ptr<Sub>> subs = subs_;  // subs_ may change while unlocked
    for (const std::shared_ptr<Sub>& sub : subs) {
      if (sub->ended) continue;
      Work w = NextWork(*sub);
      if (w.empty()) continue;
      worked = true;
      in_callback_ = sub.get();
      mu_.Unlock();
      Deliver(*sub, w);
      mu_.Lock();
      in_callback_ = nullptr;
    }
    if (!worked) changed_.Wait(&mu_);
  }
}

}  // namespace esdb::testing
