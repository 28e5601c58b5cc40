#include "devnode/log_tail.h"

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"
#include "devnode/log_subscription.h"
#include "devnode/worker_pool.h"

namespace esdb::devnode {

// A live subscription as the tail sees it.
struct LogTail::Entry {
  LogSubscription* subscription = nullptr;
  // scan.cursor stays the join point: the events above it are the tail's to queue.
  ScanState scan;
  bool has_checkpoint = false;
  std::multimap<uint64_t, Entry*>::iterator checkpoint;  // in checkpoints_ when has_checkpoint

  // Held for the subscription until it collects them (Collect()).
  std::vector<SubscriptionItem> out;
  size_t out_events = 0;
  bool notified = false;      // told about `out` (Notify()) and not collected since
  bool touched = false;       // during one Publish()
  bool let_go = false;        // removed at the end of this Publish()
  uint64_t last_matched = 0;  // an event found through two prefixes is queued once
};

namespace {

int PrefixSlot(int32_t scope) { return scope == ESDB_FILTER_EVENT_TYPE ? 1 : 0; }

}  // namespace

LogTail::LogTail(uint64_t published, WorkerPool* pool, LogTailOptions options)
    : pool_(pool), options_(options), published_(published) {}

LogTail::~LogTail() = default;

uint64_t LogTail::published() const {
  absl::MutexLock lock(&mu_);
  return published_;
}

bool LogTail::Join(LogSubscription* subscription, const ScanState& scan) {
  absl::MutexLock lock(&mu_);
  // Checked under mu_: a subscription that is ending calls Leave() after setting the flag, so it
  // either sees the flag here or finds the entry there.
  if (scan.cursor < published_ || subscription->Ending()) return false;
  auto entry = std::make_unique<Entry>();
  entry->subscription = subscription;
  entry->scan = scan;
  Entry* added = entry.get();
  entries_[subscription] = std::move(entry);
  Index(added);
  return true;
}

void LogTail::Leave(LogSubscription* subscription) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(subscription);
  if (it != entries_.end()) Remove(it->second.get());
}

void LogTail::Index(Entry* entry) {
  const SubscriptionConfig& config = entry->subscription->config();
  if (config.stream.has_value()) {
    by_stream_[*config.stream].insert(entry);
  } else if (config.filter.PrefixesOnly()) {
    const int slot = PrefixSlot(config.filter.scope());
    for (const std::string& prefix : config.filter.prefixes()) {
      if (by_prefix_[slot][prefix].insert(entry).second) ++prefix_lengths_[slot][prefix.size()];
    }
  } else {
    auto group = by_filter_.try_emplace(config.filter.Key());
    if (group.second) group.first->second.filter = config.filter;
    group.first->second.entries.insert(entry);
  }
  if (config.callbacks.on_checkpoint != nullptr) {
    entry->checkpoint = checkpoints_.emplace(entry->scan.next_checkpoint, entry);
    entry->has_checkpoint = true;
  }
}

void LogTail::Remove(Entry* entry) {
  const SubscriptionConfig& config = entry->subscription->config();
  if (config.stream.has_value()) {
    auto it = by_stream_.find(*config.stream);
    it->second.erase(entry);
    if (it->second.empty()) by_stream_.erase(it);
  } else if (config.filter.PrefixesOnly()) {
    const int slot = PrefixSlot(config.filter.scope());
    for (const std::string& prefix : config.filter.prefixes()) {
      auto it = by_prefix_[slot].find(prefix);
      if (it == by_prefix_[slot].end() || it->second.erase(entry) == 0) continue;  // a repeat
      if (it->second.empty()) by_prefix_[slot].erase(it);
      if (--prefix_lengths_[slot][prefix.size()] == 0) prefix_lengths_[slot].erase(prefix.size());
    }
  } else {
    auto it = by_filter_.find(config.filter.Key());
    it->second.entries.erase(entry);
    if (it->second.entries.empty()) by_filter_.erase(it);
  }
  if (entry->has_checkpoint) checkpoints_.erase(entry->checkpoint);
  entries_.erase(entry->subscription);
}

template <typename Fn>
void LogTail::ForEachMatch(const RecordedEvent& event, Fn&& fn) {
  if (auto it = by_stream_.find(event.stream); it != by_stream_.end()) {
    for (Entry* entry : it->second) {
      if (entry->subscription->Matches(event)) fn(entry);
    }
  }
  for (int slot = 0; slot < 2; ++slot) {
    const absl::string_view subject = slot == 0 ? event.stream : event.event_type;
    for (const auto& length : prefix_lengths_[slot]) {  // shortest first
      if (length.first > subject.size()) break;
      auto it = by_prefix_[slot].find(subject.substr(0, length.first));
      if (it == by_prefix_[slot].end()) continue;
      for (Entry* entry : it->second) fn(entry);
    }
  }
  for (const auto& group : by_filter_) {
    if (!group.second.filter.Matches(event)) continue;
    for (Entry* entry : group.second.entries) fn(entry);
  }
}

void LogTail::Publish(std::shared_ptr<const std::vector<RecordedEvent>> events) {
  if (events->empty()) return;
  absl::MutexLock lock(&mu_);
  std::vector<Entry*> touched;
  for (const RecordedEvent& event : *events) {
    ForEachMatch(event, [&](Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      AddEvent(entry, events, event, touched);
    });
    DueCheckpoints(event.position, touched);
    published_ = event.position;
  }
  for (Entry* entry : touched) {
    entry->touched = false;
    Hand(entry);
  }
  if (!entries_.empty()) ScheduleIdleNotices();
}

void LogTail::Hand(Entry* entry) {
  if (entry->let_go) {
    // The kRejoin item is the last: everything before it goes over now, then the entry.
    entry->out_events = 0;
    entry->subscription->Enqueue(entry->out);
    Remove(entry);
    return;
  }
  if (entry->notified || entry->out.empty()) return;
  entry->notified = true;
  entry->subscription->Notify();
}

void LogTail::Collect(LogSubscription* subscription) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(subscription);
  if (it == entries_.end()) return;
  Entry* entry = it->second.get();
  entry->notified = false;
  if (entry->out.empty()) return;
  entry->out_events = 0;
  // Under mu_, like a let-go hand-over: what this hands over goes before anything later.
  subscription->Enqueue(entry->out);  // keeps the vector's capacity for next time
}

void LogTail::AddEvent(Entry* entry, const std::shared_ptr<const std::vector<RecordedEvent>>& batch,
                       const RecordedEvent& event, std::vector<Entry*>& touched) {
  if (entry->let_go || event.position <= entry->scan.cursor ||
      entry->last_matched == event.position) {
    return;
  }
  entry->last_matched = event.position;
  if (!entry->touched) {
    entry->touched = true;
    touched.push_back(entry);
  }
  if (entry->subscription->pending() + entry->out_events >= options_.max_pending_events) {
    // Its callbacks are this far behind: rather than hold ever more events for it, let it go.
    // It reads this event and the rest from the store once it gets here, then joins again.
    entry->let_go = true;
    SubscriptionItem rejoin;
    rejoin.kind = SubscriptionItem::Kind::kRejoin;
    rejoin.scan = entry->scan;
    rejoin.scan.cursor = event.position - 1;
    entry->out.push_back(std::move(rejoin));
    return;
  }
  if (entry->out.empty() || entry->out.back().kind != SubscriptionItem::Kind::kEvents ||
      entry->out.back().events.size() >= options_.read_batch ||
      entry->out.back().bytes >= kMaxCallbackBytes) {
    entry->out.emplace_back();
  }
  SubscriptionItem& item = entry->out.back();
  if (item.batches.empty() || item.batches.back() != batch) item.batches.push_back(batch);
  item.events.push_back(&event);
  item.bytes += event.ByteSize();
  ++entry->out_events;
}

void LogTail::DueCheckpoints(uint64_t position, std::vector<Entry*>& touched) {
  while (!checkpoints_.empty() && checkpoints_.begin()->first <= position) {
    Entry* entry = checkpoints_.begin()->second;
    checkpoints_.erase(checkpoints_.begin());
    entry->has_checkpoint = false;
    if (entry->let_go) continue;
    // Everything matching up to `position` is queued before the notice: same order as a read.
    SubscriptionItem item;
    item.kind = SubscriptionItem::Kind::kCheckpoint;
    item.position = position;
    entry->out.push_back(std::move(item));
    if (!entry->touched) {
      entry->touched = true;
      touched.push_back(entry);
    }
    entry->scan.noticed = position;
    entry->scan.next_checkpoint = position + entry->subscription->config().checkpoint_interval;
    entry->checkpoint = checkpoints_.emplace(entry->scan.next_checkpoint, entry);
    entry->has_checkpoint = true;
  }
}

void LogTail::ScheduleIdleNotices() {
  if (idle_notices_scheduled_ || options_.idle_checkpoint_delay == absl::InfiniteDuration()) {
    return;
  }
  idle_notices_scheduled_ = true;
  pool_->PostAfter(options_.idle_checkpoint_delay, [this] { SendIdleNotices(); });
}

void LogTail::SendIdleNotices() {
  absl::MutexLock lock(&mu_);
  idle_notices_scheduled_ = false;
  for (const auto& live : entries_) {
    Entry* entry = live.second.get();
    const SubscriptionConfig& config = entry->subscription->config();
    if (!config.idle_checkpoints || config.callbacks.on_checkpoint == nullptr) continue;
    const uint64_t scanned = std::max(published_, entry->scan.cursor);
    if (scanned <= entry->scan.noticed) continue;
    entry->scan.noticed = scanned;
    // Behind whatever the tail still holds for it: a notice never overtakes an event.
    SubscriptionItem notice;
    notice.kind = SubscriptionItem::Kind::kCheckpoint;
    notice.position = scanned;
    entry->out.push_back(std::move(notice));
    Hand(entry);
  }
}

}  // namespace esdb::devnode
