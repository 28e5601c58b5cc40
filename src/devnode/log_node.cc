#include "devnode/log_node.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/text.h"
#include "devnode/event_id.h"
#include "devnode/log_filter.h"
#include "devnode/log_node_api.h"
#include "devnode/log_subscription.h"
#include "devnode/log_tail.h"
#include "devnode/memory_store.h"
#include "devnode/node_status.h"
#include "devnode/reader_pool.h"
#include "devnode/sqlite_store.h"
#include "devnode/worker_pool.h"
#include "spdlog/spdlog.h"

namespace esdb::devnode {
namespace {

// One-shot reads rarely overlap much; more concurrent ones open (and then close) extra readers.
constexpr size_t kMaxIdleReaders = 8;

LogNodeOptions Normalize(LogNodeOptions options) {
  if (options.default_checkpoint_interval == 0) options.default_checkpoint_interval = 1000;
  if (options.read_batch == 0) options.read_batch = 1;
  if (options.subscription_threads == 0) options.subscription_threads = 1;
  options.max_subscription_threads =
      std::max(options.max_subscription_threads, options.subscription_threads);
  if (options.max_pending_events == 0) options.max_pending_events = 1;
  return options;
}

AppendResult ToResult(const AppendOutcome& outcome) {
  return AppendResult{outcome.last_revision, outcome.last_position};
}

// Validates one event and decides its id and creation time.
absl::StatusOr<NewEvent> ToNewEvent(const std::string& stream, size_t index, AppendEvent event,
                                    int64_t now_us) {
  if (event.event_type.empty()) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                     absl::StrCat("event ", index, " for stream '", Excerpt(stream), "' has no event type"));
  }
  // Served in JSON and in protobuf strings, which hold UTF-8 only.
  if (!IsUtf8(event.event_type)) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                     absl::StrCat("event ", index, " for stream '", Excerpt(stream),
                                  "' has an event type that is not UTF-8"));
  }
  NewEvent out;
  if (event.event_id.empty()) {
    out.event_id = NewEventId();
  } else {
    absl::StatusOr<std::string> id = CanonicalEventId(event.event_id);
    if (!id.ok()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, id.status().message());
    out.event_id = *std::move(id);
  }
  out.event_type = std::move(event.event_type);
  out.content_type = std::move(event.content_type);
  out.data = std::move(event.data);
  out.metadata = std::move(event.metadata);
  out.created_unix_us = now_us;
  return out;
}

// Names are stored and served as they are, so a name must not carry what would change their
// meaning on the way out: a newline forges a log line, a NUL cuts a C string.
absl::Status CheckStreamName(const std::string& stream) {
  if (stream.empty()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, "stream name is empty");
  if (size_t at = FindControl(stream); at != std::string::npos) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                     absl::StrCat("stream name '", Excerpt(stream), "' has a control character at ",
                                  at, "; stream names may not contain NUL, newlines or other "
                                  "control characters"));
  }
  if (!IsUtf8(stream)) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                     absl::StrCat("stream name '", Excerpt(stream), "' is not UTF-8"));
  }
  return absl::OkStatus();
}

// One append may not carry the same event id twice: the ids are what makes a retried append
// recognisable, so two events with one id could never both be told apart downstream.
absl::Status CheckDistinctIds(const StreamAppend& append) {
  if (append.events.size() < 2) return absl::OkStatus();
  absl::flat_hash_set<absl::string_view> seen;
  for (const NewEvent& e : append.events) {
    if (!seen.insert(e.event_id).second) {
      return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                       absl::StrCat("event id ", e.event_id, " appears twice in one append to '",
                                    Excerpt(append.stream), "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status StreamNotFound(const std::string& stream) {
  return NodeError(ESDB_NODE_STREAM_NOT_FOUND, absl::StrCat("stream '", stream, "' not found"));
}

absl::Status StreamDeleted(const std::string& stream) {
  return NodeError(ESDB_NODE_STREAM_DELETED, absl::StrCat("stream '", stream, "' is deleted"));
}

}  // namespace

std::unique_ptr<LogNode> LogNode::InMemory(LogNodeOptions options) {
  return std::unique_ptr<LogNode>(new LogNode(NewMemoryStore(), std::move(options)));
}

absl::StatusOr<std::unique_ptr<LogNode>> LogNode::OpenSqlite(const std::string& path,
                                                             LogNodeOptions options) {
  SqliteStoreOptions store_options;
  store_options.full_sync = options.sqlite_full_sync;
  absl::StatusOr<std::unique_ptr<LogStore>> store = OpenSqliteStore(path, store_options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<LogNode>(new LogNode(*std::move(store), std::move(options)));
}

LogNode::LogNode(std::unique_ptr<LogStore> store, LogNodeOptions options)
    : options_(Normalize(std::move(options))),
      store_(std::move(store)),
      readers_(std::make_unique<ReaderPool>(store_.get(), kMaxIdleReaders)),
      pool_(std::make_unique<WorkerPool>(
          WorkerPool::Options{.min_threads = options_.subscription_threads,
                              .max_threads = options_.max_subscription_threads})),
      tail_(std::make_unique<LogTail>(
          store_->LastPosition(), pool_.get(),
          LogTailOptions{.read_batch = options_.read_batch,
                         .max_pending_events = options_.max_pending_events,
                         .idle_checkpoint_delay = options_.idle_checkpoint_delay})) {
  members_.push_back(
      NodeMember{options_.member_id, ESDB_ROLE_LEADER, true, options_.http_endpoint});
  absl::MutexLock lock(&views_mu_);
  views_.push_back(LogNodeApi::MakeView(this, options_.member_id));
  default_view_ = views_.front().get();
}

LogNode::~LogNode() {
  Shutdown();
  absl::flat_hash_map<LogSubscription*, std::shared_ptr<LogSubscription>> subscriptions;
  {
    absl::MutexLock lock(&subs_mu_);
    subscriptions.swap(subscriptions_);
  }
  // Shutdown() ended them; destroying them here frees the handles.
  subscriptions.clear();
  // Joins the pool's threads and drops its queued jobs while the tail and readers they use
  // are still there.
  pool_.reset();
}

const esdb_node_api* LogNode::api() const { return &default_view_->table; }

const esdb_node_api* LogNode::ApiForMember(const std::string& member_id) {
  absl::MutexLock lock(&views_mu_);
  for (const std::unique_ptr<NodeApiView>& view : views_) {
    if (view->self_id == member_id) return &view->table;
  }
  views_.push_back(LogNodeApi::MakeView(this, member_id));
  return &views_.back()->table;
}

absl::Status LogNode::CheckRunning() const {
  if (shut_down_.load()) return NodeError(ESDB_NODE_UNAVAILABLE, "the log node is shut down");
  return absl::OkStatus();
}

absl::StatusOr<AppendResult> LogNode::Append(const std::string& stream, int64_t expected_revision,
                                             std::vector<AppendEvent> events) {
  std::vector<StreamEvents> batch;
  batch.push_back(StreamEvents{stream, expected_revision, std::move(events)});
  absl::StatusOr<std::vector<AppendOutcome>> outcomes = Write(std::move(batch));
  if (!outcomes.ok()) return outcomes.status();
  return ToResult(outcomes->front());
}

absl::StatusOr<std::vector<AppendResult>> LogNode::AppendBatch(std::vector<StreamEvents> batch) {
  absl::StatusOr<std::vector<AppendOutcome>> outcomes = Write(std::move(batch));
  if (!outcomes.ok()) return outcomes.status();
  std::vector<AppendResult> results;
  results.reserve(outcomes->size());
  for (const AppendOutcome& outcome : *outcomes) results.push_back(ToResult(outcome));
  return results;
}

absl::StatusOr<std::vector<AppendOutcome>> LogNode::Write(std::vector<StreamEvents> batch) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  std::vector<StreamAppend> appends;
  appends.reserve(batch.size());
  for (StreamEvents& entry : batch) {
    if (absl::Status st = CheckStreamName(entry.stream); !st.ok()) return st;
    StreamAppend& append = appends.emplace_back();
    append.stream = std::move(entry.stream);
    append.expected_revision = entry.expected_revision;
    append.events.reserve(entry.events.size());
    for (size_t i = 0; i < entry.events.size(); ++i) {
      absl::StatusOr<NewEvent> event =
          ToNewEvent(append.stream, i, std::move(entry.events[i]), now_us);
      if (!event.ok()) return event.status();
      append.events.push_back(*std::move(event));
    }
    if (absl::Status st = CheckDistinctIds(append); !st.ok()) return st;
  }
  if (absl::Status st = InjectedFault(appends); !st.ok()) return st;
  auto written = std::make_shared<std::vector<RecordedEvent>>();
  absl::MutexLock lock(&write_mu_);
  absl::StatusOr<std::vector<AppendOutcome>> outcomes =
      store_->Append(std::move(appends), written.get());
  if (outcomes.ok()) {
    if (commit_hook_) commit_hook_();
    tail_->Publish(std::move(written));
  }
  return outcomes;
}

absl::Status LogNode::InjectedFault(const std::vector<StreamAppend>& appends) {
  const StreamAppend* hit = nullptr;
  esdb_node_status status = ESDB_NODE_OK;
  {
    absl::MutexLock lock(&faults_mu_);
    for (const StreamAppend& append : appends) {
      auto rule = std::find_if(faults_.begin(), faults_.end(), [&](const FaultRule& r) {
        return absl::StartsWith(append.stream, r.prefix);
      });
      if (rule == faults_.end()) continue;
      hit = &append;
      status = rule->status;
      if (--rule->remaining <= 0) faults_.erase(rule);
      break;
    }
  }
  if (hit == nullptr) return absl::OkStatus();
  if (status == ESDB_NODE_WRONG_EXPECTED_VERSION) {
    // Report the stream's real revision, as a real conflict would.
    absl::StatusOr<ReaderPool::Lease> reader = readers_->Borrow();
    if (!reader.ok()) return reader.status();
    absl::StatusOr<std::optional<StreamInfo>> info = (*reader)->GetStream(hit->stream);
    if (!info.ok()) return info.status();
    int64_t actual = info->has_value() ? (*info)->last_revision : -1;
    return WrongExpectedVersion(hit->stream, hit->expected_revision, actual);
  }
  return NodeError(
      status, absl::StrCat("injected failure (FailNextAppends) for stream '", hit->stream, "'"));
}

void LogNode::FailNextAppends(const std::string& stream_prefix, esdb_node_status status,
                              int count) {
  absl::MutexLock lock(&faults_mu_);
  if (count <= 0 || status == ESDB_NODE_OK) {
    faults_.erase(std::remove_if(faults_.begin(), faults_.end(),
                                 [&](const FaultRule& r) { return r.prefix == stream_prefix; }),
                  faults_.end());
    return;
  }
  faults_.push_back(FaultRule{stream_prefix, status, count});
}

void LogNode::SetCommitHook(std::function<void()> hook) {
  absl::MutexLock lock(&write_mu_);
  commit_hook_ = std::move(hook);
}

size_t LogNode::SubscriptionCount() {
  absl::MutexLock lock(&subs_mu_);
  return subscriptions_.size();
}

absl::Status LogNode::ReadStream(const std::string& stream, ReadDirection direction,
                                 uint64_t from_revision, uint64_t max_count,
                                 const std::function<bool(const RecordedEvent&)>& on_event) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  if (stream.empty()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, "stream name is empty");
  absl::StatusOr<ReaderPool::Lease> reader = readers_->Borrow();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<StreamInfo>> info = (*reader)->GetStream(stream);
  if (!info.ok()) return info.status();
  if (!info->has_value()) return StreamNotFound(stream);
  if ((*info)->tombstoned) return StreamDeleted(stream);
  if ((*info)->last_revision < 0) return StreamNotFound(stream);

  const uint64_t last = static_cast<uint64_t>((*info)->last_revision);
  const std::optional<uint64_t>& max_visible = (*info)->metadata.max_count;
  // $maxCount hides all but the newest events from stream reads, $tb all below it.
  uint64_t first_visible = max_visible && *max_visible <= last ? last + 1 - *max_visible : 0;
  first_visible = std::max(first_visible, (*info)->metadata.truncate_before.value_or(0));
  if (first_visible > last) return StreamNotFound(stream);  // soft-deleted

  uint64_t remaining = max_count;
  uint64_t next;
  if (direction == ReadDirection::kForwards) {
    next = std::max(from_revision, first_visible);
  } else {
    if (from_revision < first_visible) return absl::OkStatus();
    next = std::min(from_revision, last);
  }
  while (remaining > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, options_.read_batch));
    absl::StatusOr<std::vector<RecordedEvent>> batch =
        (*reader)->ReadStream(stream, direction, next, want);
    if (!batch.ok()) return batch.status();
    for (const RecordedEvent& event : *batch) {
      if (event.revision < first_visible) return absl::OkStatus();
      if (!on_event(event)) return absl::OkStatus();
      --remaining;
    }
    if (batch->size() < want) break;
    const uint64_t last_read = batch->back().revision;
    if (direction == ReadDirection::kForwards) {
      next = last_read + 1;
    } else {
      if (last_read == 0) break;
      next = last_read - 1;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RecordedEvent>> LogNode::ReadStream(const std::string& stream,
                                                               ReadDirection direction,
                                                               uint64_t from_revision,
                                                               uint64_t max_count) {
  std::vector<RecordedEvent> events;
  absl::Status st =
      ReadStream(stream, direction, from_revision, max_count, [&](const RecordedEvent& event) {
        events.push_back(event);
        return true;
      });
  if (!st.ok()) return st;
  return events;
}

absl::StatusOr<std::vector<RecordedEvent>> LogNode::ReadAll(ReadDirection direction,
                                                            uint64_t from_position,
                                                            uint64_t max_count,
                                                            size_t max_bytes) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  absl::StatusOr<ReaderPool::Lease> reader = readers_->Borrow();
  if (!reader.ok()) return reader.status();
  return (*reader)->ReadAll(direction, from_position,
                            static_cast<size_t>(std::min<uint64_t>(max_count, SIZE_MAX)),
                            max_bytes);
}

uint64_t LogNode::LastPosition() const { return store_->LastPosition(); }

absl::StatusOr<uint64_t> LogNode::DeleteStream(const std::string& stream,
                                               int64_t expected_revision) {
  return Delete(stream, expected_revision, /*tombstone=*/false);
}

absl::StatusOr<uint64_t> LogNode::TombstoneStream(const std::string& stream,
                                                  int64_t expected_revision) {
  return Delete(stream, expected_revision, /*tombstone=*/true);
}

absl::StatusOr<uint64_t> LogNode::Delete(const std::string& stream, int64_t expected_revision,
                                         bool tombstone) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  if (absl::Status st = CheckStreamName(stream); !st.ok()) return st;
  if (absl::Status st = store_->DeleteStream(stream, expected_revision, tombstone); !st.ok()) {
    return st;
  }
  return store_->LastPosition();
}

absl::StatusOr<std::string> LogNode::GetStreamMetadata(const std::string& stream) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  if (stream.empty()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, "stream name is empty");
  absl::StatusOr<ReaderPool::Lease> reader = readers_->Borrow();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<StreamInfo>> info = (*reader)->GetStream(stream);
  if (!info.ok()) return info.status();
  if (!info->has_value()) return std::string(kEmptyStreamMetadata);
  return (*info)->metadata.json;
}

absl::Status LogNode::SetStreamMetadata(const std::string& stream, const std::string& json) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  if (stream.empty()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, "stream name is empty");
  absl::StatusOr<StreamMetadata> metadata = ParseStreamMetadata(json);
  if (!metadata.ok()) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                     absl::StrCat("stream '", stream, "': ", metadata.status().message()));
  }
  return store_->SetStreamMetadata(stream, *metadata);
}

std::vector<NodeMember> LogNode::Members() const {
  absl::MutexLock lock(&members_mu_);
  return members_;
}

void LogNode::SetMembers(std::vector<NodeMember> members) {
  {
    absl::MutexLock lock(&members_mu_);
    members_ = std::move(members);
  }
  absl::MutexLock lock(&watch_mu_);
  for (const auto& [key, watch] : watches_) {
    try {
      watch->changed(watch->user);
    } catch (...) {
      spdlog::error("log node: a membership watcher threw; ignored");
    }
  }
}

absl::StatusOr<LogNode::Watch*> LogNode::AddWatch(void (*changed)(void* user), void* user) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  auto watch = std::make_unique<Watch>(Watch{changed, user});
  Watch* handle = watch.get();
  absl::MutexLock lock(&watch_mu_);
  watches_.emplace(handle, std::move(watch));
  return handle;
}

void LogNode::RemoveWatch(Watch* watch) {
  absl::MutexLock lock(&watch_mu_);
  if (watches_.erase(watch) == 0) {
    spdlog::warn("log node: unwatch_members with an unknown handle; ignored");
  }
}

absl::StatusOr<LogSubscription*> LogNode::Subscribe(const esdb_subscribe_options& options,
                                                    const esdb_subscription_callbacks& callbacks) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  if (callbacks.on_events == nullptr) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT, "subscription callbacks lack on_events");
  }
  absl::StatusOr<LogFilter> filter = LogFilter::Create(options);
  if (!filter.ok()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, filter.status().message());

  SubscriptionConfig config;
  switch (options.from) {
    case ESDB_FROM_START:
      config.start_after = 0;
      break;
    case ESDB_FROM_END:
      config.start_after = store_->LastPosition();
      break;
    case ESDB_FROM_POSITION:
      config.start_after = options.position.commit;
      break;
    default:
      return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                       absl::StrCat("unknown subscription start ", options.from));
  }
  config.filter = *std::move(filter);
  config.checkpoint_interval = options.checkpoint_interval != 0
                                   ? options.checkpoint_interval
                                   : options_.default_checkpoint_interval;
  config.idle_checkpoints = true;
  config.callbacks = callbacks;
  return Start(std::move(config));
}

absl::StatusOr<LogSubscription*> LogNode::Start(SubscriptionConfig config) {
  config.read_batch = options_.read_batch;
  auto subscription = std::make_shared<LogSubscription>(readers_.get(), tail_.get(), pool_.get(),
                                                        std::move(config));
  absl::MutexLock lock(&subs_mu_);
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  subscriptions_.emplace(subscription.get(), subscription);
  subscription->Start();
  return subscription.get();
}

LogNode::Subscription::~Subscription() { node_->Unsubscribe(handle_); }

void LogNode::Subscription::Pause() { handle_->Pause(); }

void LogNode::Subscription::Resume() { handle_->Resume(); }

absl::StatusOr<std::unique_ptr<LogNode::Subscription>> LogNode::SubscribeAll(
    const esdb_subscribe_options& options, const esdb_subscription_callbacks& callbacks) {
  return WrapSubscription(Subscribe(options, callbacks));
}

absl::StatusOr<std::unique_ptr<LogNode::Subscription>> LogNode::SubscribeStream(
    const std::string& stream, StreamFrom from, uint64_t revision,
    const esdb_subscription_callbacks& callbacks) {
  if (absl::Status st = CheckRunning(); !st.ok()) return st;
  if (stream.empty()) return NodeError(ESDB_NODE_INVALID_ARGUMENT, "stream name is empty");
  if (callbacks.on_events == nullptr) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT, "subscription callbacks lack on_events");
  }
  if (from == StreamFrom::kAfterRevision && revision > static_cast<uint64_t>(INT64_MAX)) {
    return NodeError(ESDB_NODE_INVALID_ARGUMENT,
                     absl::StrCat("revision ", revision, " is too big"));
  }
  SubscriptionConfig config;
  config.stream = stream;
  config.callbacks = callbacks;
  config.callbacks.on_checkpoint = nullptr;
  // Taken before the stream is looked at: an event appended meanwhile lies after it.
  const uint64_t end = store_->LastPosition();
  if (from == StreamFrom::kEnd) {
    config.start_after = end;
    return WrapSubscription(Start(std::move(config)));
  }
  absl::StatusOr<ReaderPool::Lease> reader = readers_->Borrow();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<StreamInfo>> info = (*reader)->GetStream(stream);
  if (!info.ok()) return info.status();
  if (info->has_value() && (*info)->tombstoned) return StreamDeleted(stream);
  int64_t after = from == StreamFrom::kStart ? -1 : static_cast<int64_t>(revision);
  if (info->has_value() && (*info)->metadata.truncate_before.has_value()) {
    // Soft-deleted events stay hidden, as from stream reads.
    after = std::max(after, static_cast<int64_t>(*(*info)->metadata.truncate_before) - 1);
  }
  config.after_revision = after;
  // Scan $all from just before the first wanted event, or from `end` if it is not written yet.
  absl::StatusOr<std::vector<RecordedEvent>> first =
      (*reader)->ReadStream(stream, ReadDirection::kForwards, static_cast<uint64_t>(after + 1), 1);
  if (!first.ok()) return first.status();
  config.start_after = first->empty() ? end : first->front().position - 1;
  return WrapSubscription(Start(std::move(config)));
}

absl::StatusOr<std::unique_ptr<LogNode::Subscription>> LogNode::WrapSubscription(
    absl::StatusOr<LogSubscription*> handle) {
  if (!handle.ok()) return handle.status();
  return std::unique_ptr<Subscription>(new Subscription(this, *handle));
}

void LogNode::Unsubscribe(LogSubscription* handle) {
  std::shared_ptr<LogSubscription> subscription;
  {
    absl::MutexLock lock(&subs_mu_);
    auto it = subscriptions_.find(handle);
    if (it == subscriptions_.end()) {
      spdlog::warn("log node: unsubscribe_all with an unknown handle; ignored");
      return;
    }
    subscription = std::move(it->second);
    subscriptions_.erase(it);
  }
  subscription->Stop();
}

void LogNode::Shutdown() {
  shut_down_.store(true);
  std::vector<std::shared_ptr<LogSubscription>> running;
  {
    absl::MutexLock lock(&subs_mu_);
    for (const auto& [handle, subscription] : subscriptions_) running.push_back(subscription);
  }
  for (const std::shared_ptr<LogSubscription>& subscription : running) {
    subscription->Drop(ESDB_NODE_UNAVAILABLE, "node shutting down");
  }
}

}  // namespace esdb::devnode
