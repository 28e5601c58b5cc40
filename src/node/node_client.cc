#include "node/node_client.h"

#include <atomic>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/text.h"

namespace esdb {
namespace {

constexpr size_t kErrSize = 512;

// Stream revisions are signed 64-bit in KurrentDB and wherever the library keeps one (expected
// revisions, where -1 and -2 mean "no stream" and "any"): a node that reports more is wrong, and
// taken as it is such a revision would turn into one of those words (fencing off).
constexpr uint64_t kMaxRevision = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

absl::Status RevisionOutOfRange(absl::string_view what, const std::string& stream,
                                uint64_t revision) {
  return absl::InternalError(absl::StrCat(what, " ", stream, ": the node reported revision ",
                                          revision, ", beyond the largest a stream can have"));
}

RecordView ToView(const esdb_recorded_event& e) {
  RecordView v;
  v.stream = e.stream ? e.stream : "";
  v.revision = e.revision;
  v.position = {e.position.commit, e.position.prepare};
  v.event_id = e.event_id ? e.event_id : "";
  v.event_type = e.event_type ? e.event_type : "";
  v.content_type = e.content_type ? e.content_type : "";
  if (e.data_size) v.data = {reinterpret_cast<const char*>(e.data), e.data_size};
  if (e.metadata_size) v.metadata = {reinterpret_cast<const char*>(e.metadata), e.metadata_size};
  v.created_unix_us = e.created_unix_us;
  return v;
}

esdb_position ToC(Position p) { return {p.commit, p.prepare}; }
Position FromC(esdb_position p) { return {p.commit, p.prepare}; }

// Keeps a subscription's C callbacks pointing at a handler; unsubscribes on destruction.
class NodeSubscription : public Subscription {
 public:
  NodeSubscription(const esdb_node_api* api, SubscriptionHandler* handler)
      : api_(api), handler_(handler) {}
  ~NodeSubscription() override {
    if (sub_ != nullptr) api_->unsubscribe_all(api_->ctx, sub_);
  }

  esdb_subscription_callbacks Callbacks() {
    esdb_subscription_callbacks cb{};
    cb.struct_size = sizeof cb;
    cb.user = this;
    cb.on_events = [](void* user, const esdb_recorded_event* const* events, size_t count) {
      // One copy of the borrowed events, into one buffer: the node's thread is what a
      // connector's throughput is bound by, so it makes no Record here.
      // The views are made once: each C string is measured once.
      std::vector<RecordView> views;
      views.reserve(count);
      size_t bytes = 0;
      for (size_t i = 0; i < count; ++i) {
        bytes += RecordBlock::PackedSize(views.emplace_back(ToView(*events[i])));
      }
      RecordBlock block(bytes, count);
      for (const RecordView& v : views) block.Add(v);
      static_cast<NodeSubscription*>(user)->handler_->OnEventBlock(std::move(block));
    };
    cb.on_checkpoint = [](void* user, esdb_position p) {
      static_cast<NodeSubscription*>(user)->handler_->OnCheckpoint(FromC(p));
    };
    cb.on_caught_up = [](void* user, esdb_position p) {
      static_cast<NodeSubscription*>(user)->handler_->OnCaughtUp(FromC(p));
    };
    cb.on_dropped = [](void* user, esdb_node_status status, const char* message) {
      static_cast<NodeSubscription*>(user)->handler_->OnDropped(NodeStatusToStatus(
          status == ESDB_NODE_OK ? ESDB_NODE_UNAVAILABLE : status,
          absl::StrCat("subscription dropped: ", message ? message : "")));
    };
    return cb;
  }

  esdb_subscription* sub_ = nullptr;

 private:
  const esdb_node_api* api_;
  SubscriptionHandler* handler_;
};

}  // namespace

void SubscriptionHandler::OnEventBlock(RecordBlock block) {
  std::vector<Record> records;
  records.reserve(block.size());
  for (size_t i = 0; i < block.size(); ++i) records.push_back(block[i].ToRecord());
  OnEvents(std::move(records));
}

absl::Status NodeStatusToStatus(esdb_node_status status, const std::string& message) {
  std::string text = message.empty() ? esdb_node_status_name(status) : message;
  switch (status) {
    case ESDB_NODE_OK: return absl::OkStatus();
    case ESDB_NODE_WRONG_EXPECTED_VERSION: return absl::AbortedError(text);
    case ESDB_NODE_STREAM_NOT_FOUND: return absl::NotFoundError(text);
    case ESDB_NODE_STREAM_DELETED: return absl::FailedPreconditionError(text);
    case ESDB_NODE_NOT_LEADER:
    case ESDB_NODE_UNAVAILABLE: return absl::UnavailableError(text);
    case ESDB_NODE_INVALID_ARGUMENT: return absl::InvalidArgumentError(text);
    case ESDB_NODE_ACCESS_DENIED: return absl::PermissionDeniedError(text);
    default: return absl::InternalError(text);
  }
}

absl::StatusOr<AppendResult> NodeClient::Append(const std::string& stream,
                                                int64_t expected_revision,
                                                std::span<const EventData> events) const {
  std::vector<esdb_event_data> data(events.size());
  std::vector<const esdb_event_data*> ptrs(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const EventData& e = events[i];
    esdb_event_data& d = data[i];
    d.struct_size = sizeof d;
    d.event_id = e.event_id.empty() ? nullptr : e.event_id.c_str();
    d.event_type = e.event_type.c_str();
    d.content_type = e.content_type.c_str();
    d.data = reinterpret_cast<const uint8_t*>(e.data.data());
    d.data_size = e.data.size();
    d.metadata = reinterpret_cast<const uint8_t*>(e.metadata.data());
    d.metadata_size = e.metadata.size();
    ptrs[i] = &d;
  }
  esdb_append_result result{};
  result.struct_size = sizeof result;
  char err[kErrSize] = "";
  esdb_node_status s = api_->append(api_->ctx, stream.c_str(), expected_revision, ptrs.data(),
                                    ptrs.size(), &result, err, sizeof err);
  if (s == ESDB_NODE_WRONG_EXPECTED_VERSION) {
    return absl::AbortedError(absl::StrCat("append to ", stream, ": expected revision ",
                                           expected_revision, ", actual ",
                                           result.actual_revision));
  }
  if (s != ESDB_NODE_OK) {
    return NodeStatusToStatus(s, absl::StrCat("append to ", stream, ": ", err));
  }
  if (result.next_expected_revision > kMaxRevision) {
    return RevisionOutOfRange("append to", stream, result.next_expected_revision);
  }
  return AppendResult{result.next_expected_revision, FromC(result.position)};
}

absl::Status NodeClient::ReadStream(const std::string& stream, Direction direction,
                                    uint64_t from_revision, uint64_t max_count,
                                    const std::function<bool(const Record&)>& on_record) const {
  char err[kErrSize] = "";
  struct Reading {
    const std::function<bool(const Record&)>& on_record;
    std::optional<uint64_t> bad_revision;
  } reading{on_record, std::nullopt};
  auto trampoline = [](void* user, const esdb_recorded_event* e) -> int {
    auto* r = static_cast<Reading*>(user);
    if (e->revision > kMaxRevision) {
      r->bad_revision = e->revision;
      return 1;
    }
    return r->on_record(ToView(*e).ToRecord()) ? 0 : 1;
  };
  esdb_node_status s = api_->read_stream(
      api_->ctx, stream.c_str(),
      direction == Direction::kForwards ? ESDB_READ_FORWARDS : ESDB_READ_BACKWARDS, from_revision,
      max_count, trampoline, &reading, err, sizeof err);
  if (reading.bad_revision) return RevisionOutOfRange("read", stream, *reading.bad_revision);
  return NodeStatusToStatus(s, absl::StrCat("read ", stream, ": ", err));
}

absl::StatusOr<std::vector<Record>> NodeClient::ReadStreamEvents(const std::string& stream,
                                                                 Direction direction,
                                                                 uint64_t from_revision,
                                                                 uint64_t max_count) const {
  std::vector<Record> out;
  absl::Status s = ReadStream(stream, direction, from_revision, max_count, [&](const Record& r) {
    out.push_back(r);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::unique_ptr<Subscription>> NodeClient::SubscribeAll(
    const SubscribeOptions& options, SubscriptionHandler* handler) const {
  auto sub = std::make_unique<NodeSubscription>(api_, handler);
  esdb_subscribe_options o{};
  o.struct_size = sizeof o;
  switch (options.from) {
    case SubscribeOptions::From::kStart: o.from = ESDB_FROM_START; break;
    case SubscribeOptions::From::kEnd: o.from = ESDB_FROM_END; break;
    case SubscribeOptions::From::kPosition: o.from = ESDB_FROM_POSITION; break;
  }
  o.position = ToC(options.position);
  std::vector<const char*> prefixes;
  if (options.filter.enabled) {
    o.filter_scope =
        options.filter.scope == FilterScope::kStream ? ESDB_FILTER_STREAM : ESDB_FILTER_EVENT_TYPE;
    o.filter_regex = options.filter.regex.empty() ? nullptr : options.filter.regex.c_str();
    for (const auto& p : options.filter.prefixes) prefixes.push_back(p.c_str());
    o.filter_prefixes = prefixes.data();
    o.filter_prefix_count = prefixes.size();
  } else {
    o.filter_scope = ESDB_FILTER_NONE;
  }
  o.checkpoint_interval = options.checkpoint_interval;
  esdb_subscription_callbacks cb = sub->Callbacks();
  char err[kErrSize] = "";
  esdb_node_status s = api_->subscribe_all(api_->ctx, &o, &cb, &sub->sub_, err, sizeof err);
  if (s != ESDB_NODE_OK) return NodeStatusToStatus(s, absl::StrCat("subscribe to $all: ", err));
  return std::unique_ptr<Subscription>(std::move(sub));
}

absl::StatusOr<Position> NodeClient::LastPosition() const {
  esdb_position p{};
  char err[kErrSize] = "";
  esdb_node_status s = api_->last_position(api_->ctx, &p, err, sizeof err);
  if (s != ESDB_NODE_OK) return NodeStatusToStatus(s, absl::StrCat("last position: ", err));
  return FromC(p);
}

absl::StatusOr<std::string> NodeClient::GetStreamMetadata(const std::string& stream) const {
  if (!ESDB_HAS_FUNCTION(esdb_node_api, api_, get_stream_metadata)) {
    return absl::UnimplementedError("the node does not read stream metadata");
  }
  std::string json;
  char err[kErrSize] = "";
  esdb_node_status s = api_->get_stream_metadata(
      api_->ctx, stream.c_str(),
      [](void* user, const char* text, size_t size) {
        static_cast<std::string*>(user)->assign(text, size);
      },
      &json, err, sizeof err);
  if (s != ESDB_NODE_OK) return NodeStatusToStatus(s, absl::StrCat("metadata of ", stream, ": ", err));
  return json;
}

absl::Status NodeClient::SetStreamMetadata(const std::string& stream,
                                           const std::string& json) const {
  char err[kErrSize] = "";
  esdb_node_status s =
      api_->set_stream_metadata(api_->ctx, stream.c_str(), json.c_str(), err, sizeof err);
  return NodeStatusToStatus(s, absl::StrCat("set metadata of ", stream, ": ", err));
}

absl::StatusOr<Membership> NodeClient::GetMembers() const {
  Membership m;
  if (!ESDB_HAS_FUNCTION(esdb_node_api, api_, get_members)) {
    // A host without a cluster view stands for a single node, which leads (esdb/node.h).
    m.self_id = kSingleNodeMemberId;
    m.members.push_back({m.self_id, ESDB_ROLE_LEADER, true, ""});
    return m;
  }
  char err[kErrSize] = "";
  esdb_node_status s = api_->get_members(
      api_->ctx,
      [](void* user, const esdb_member* const* members, size_t count, const char* self_id) {
        auto* out = static_cast<Membership*>(user);
        out->self_id = self_id ? self_id : "";
        for (size_t i = 0; i < count; ++i) {
          const esdb_member& e = *members[i];
          out->members.push_back({e.member_id ? e.member_id : "", e.role, e.alive != 0,
                                  e.http_endpoint ? e.http_endpoint : ""});
        }
      },
      &m, err, sizeof err);
  if (s != ESDB_NODE_OK) return NodeStatusToStatus(s, absl::StrCat("members: ", err));
  return m;
}

namespace {

class NodeMembershipWatch : public MembershipWatch {
 public:
  NodeMembershipWatch(const esdb_node_api* api, std::function<void()> changed)
      : api_(api), changed_(std::move(changed)) {}
  ~NodeMembershipWatch() override {
    if (watch_ != nullptr) api_->unwatch_members(api_->ctx, watch_);
  }
  static void Changed(void* user) { static_cast<NodeMembershipWatch*>(user)->changed_(); }
  esdb_watch* watch_ = nullptr;

 private:
  const esdb_node_api* api_;
  std::function<void()> changed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MembershipWatch>> NodeClient::WatchMembers(
    std::function<void()> changed) const {
  if (!ESDB_HAS_FUNCTION(esdb_node_api, api_, watch_members) ||
      !ESDB_HAS_FUNCTION(esdb_node_api, api_, unwatch_members)) {
    return absl::UnimplementedError("the node does not report membership changes");
  }
  auto w = std::make_unique<NodeMembershipWatch>(api_, std::move(changed));
  char err[kErrSize] = "";
  esdb_node_status s = api_->watch_members(api_->ctx, &NodeMembershipWatch::Changed, w.get(),
                                           &w->watch_, err, sizeof err);
  if (s != ESDB_NODE_OK) return NodeStatusToStatus(s, absl::StrCat("watch members: ", err));
  return std::unique_ptr<MembershipWatch>(std::move(w));
}

void NodeClient::Log(int32_t level, const std::string& message) const {
  if (!ESDB_HAS_FUNCTION(esdb_node_api, api_, log)) return;
  // One call, one line: a message may quote what whoever appends chose (a stream name, an event
  // type), and a line break in it would forge a log line, a NUL cut the message short.
  if (FindControl(message) == std::string::npos) {
    api_->log(api_->ctx, level, message.c_str());
  } else {
    api_->log(api_->ctx, level, OneLine(message).c_str());
  }
}

}  // namespace esdb
