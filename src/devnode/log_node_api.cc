#include "devnode/log_node_api.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/text.h"
#include "devnode/c_abi.h"
#include "devnode/log_node.h"
#include "devnode/log_subscription.h"
#include "devnode/node_status.h"
#include "spdlog/spdlog.h"

namespace esdb::devnode {
namespace {

constexpr char kNodeVersion[] = "0.1.0-devnode";

LogNode& Node(void* ctx) { return *static_cast<NodeApiView*>(ctx)->node; }

absl::Status Invalid(absl::string_view message) {
  return NodeError(ESDB_NODE_INVALID_ARGUMENT, message);
}

// Runs `body` (returning absl::Status) and reports its outcome the ABI way: the node status as the
// result, the message in err. Exceptions become ESDB_NODE_ERROR.
template <typename Body>
esdb_node_status Guarded(const char* function, char* err, size_t err_size, Body&& body) {
  WriteError(err, err_size, "");
  try {
    absl::Status status = body();
    if (status.ok()) return ESDB_NODE_OK;
    WriteError(err, err_size, status.message());
    return ToNodeStatus(status);
  } catch (const std::exception& e) {
    WriteError(err, err_size, absl::StrCat("log node ", function, ": exception: ", e.what()));
  } catch (...) {
    WriteError(err, err_size, absl::StrCat("log node ", function, ": unknown exception"));
  }
  return ESDB_NODE_ERROR;
}

template <typename Body>
void GuardedVoid(const char* function, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("log node {}: exception: {}", function, e.what());
  } catch (...) {
    spdlog::error("log node {}: unknown exception", function);
  }
}

absl::StatusOr<AppendEvent> FromCEvent(const esdb_event_data* in, size_t index) {
  if (in == nullptr) return Invalid(absl::StrCat("event ", index, " is NULL"));
  esdb_event_data e = CopyAbiStruct(*in);
  if ((e.data == nullptr && e.data_size > 0) || (e.metadata == nullptr && e.metadata_size > 0)) {
    return Invalid(absl::StrCat("event ", index, " has a NULL buffer with a non-zero size"));
  }
  AppendEvent out;
  if (e.event_id != nullptr) out.event_id = e.event_id;
  if (e.event_type != nullptr) out.event_type = e.event_type;
  out.content_type = e.content_type != nullptr ? e.content_type : "application/octet-stream";
  if (e.data_size > 0) out.data.assign(reinterpret_cast<const char*>(e.data), e.data_size);
  if (e.metadata_size > 0) {
    out.metadata.assign(reinterpret_cast<const char*>(e.metadata), e.metadata_size);
  }
  return out;
}

}  // namespace

std::unique_ptr<NodeApiView> LogNodeApi::MakeView(LogNode* node, std::string self_id) {
  auto view = std::make_unique<NodeApiView>();
  view->node = node;
  view->self_id = std::move(self_id);
  esdb_node_api& t = view->table;
  t.struct_size = sizeof(esdb_node_api);
  t.abi_version = ESDB_NODE_ABI_VERSION;
  t.ctx = view.get();
  t.node_version = kNodeVersion;
  t.append = &LogNodeApi::Append;
  t.read_stream = &LogNodeApi::ReadStream;
  t.subscribe_all = &LogNodeApi::SubscribeAll;
  t.unsubscribe_all = &LogNodeApi::UnsubscribeAll;
  t.last_position = &LogNodeApi::LastPosition;
  t.get_stream_metadata = &LogNodeApi::GetStreamMetadata;
  t.set_stream_metadata = &LogNodeApi::SetStreamMetadata;
  t.get_members = &LogNodeApi::GetMembers;
  t.watch_members = &LogNodeApi::WatchMembers;
  t.unwatch_members = &LogNodeApi::UnwatchMembers;
  t.log = &LogNodeApi::Log;
  return view;
}

esdb_node_status LogNodeApi::Append(void* ctx, const char* stream, int64_t expected_revision,
                                    const esdb_event_data* const* events, size_t count,
                                    esdb_append_result* result, char* err, size_t err_size) {
  return Guarded("append", err, err_size, [&]() -> absl::Status {
    if (stream == nullptr) return Invalid("stream is NULL");
    if (events == nullptr && count > 0) return Invalid("events is NULL but count > 0");
    std::vector<AppendEvent> converted;
    converted.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      absl::StatusOr<AppendEvent> event = FromCEvent(events[i], i);
      if (!event.ok()) return event.status();
      converted.push_back(*std::move(event));
    }
    absl::StatusOr<AppendResult> appended =
        Node(ctx).Append(stream, expected_revision, std::move(converted));
    if (result != nullptr) {
      if (appended.ok()) {
        if (ESDB_DEVNODE_HAS_FIELD(result, next_expected_revision)) {
          result->next_expected_revision = appended->next_expected_revision;
        }
        if (ESDB_DEVNODE_HAS_FIELD(result, position)) {
          result->position = ToCPosition(appended->position);
        }
      } else if (std::optional<int64_t> actual = ActualRevision(appended.status());
                 actual && ESDB_DEVNODE_HAS_FIELD(result, actual_revision)) {
        result->actual_revision = *actual;
      }
    }
    return appended.status();
  });
}

esdb_node_status LogNodeApi::ReadStream(void* ctx, const char* stream, int32_t direction,
                                        uint64_t from_revision, uint64_t max_count,
                                        esdb_read_event_fn on_event, void* user, char* err,
                                        size_t err_size) {
  return Guarded("read_stream", err, err_size, [&]() -> absl::Status {
    if (stream == nullptr) return Invalid("stream is NULL");
    if (on_event == nullptr) return Invalid("on_event is NULL");
    if (direction != ESDB_READ_FORWARDS && direction != ESDB_READ_BACKWARDS) {
      return Invalid(absl::StrCat("unknown read direction ", direction));
    }
    ReadDirection dir =
        direction == ESDB_READ_FORWARDS ? ReadDirection::kForwards : ReadDirection::kBackwards;
    absl::Status read = Node(ctx).ReadStream(stream, dir, from_revision, max_count,
                                             [&](const RecordedEvent& event) {
                                               esdb_recorded_event view = ToCEvent(event);
                                               return on_event(user, &view) == 0;
                                             });
    // The ABI promises STREAM_NOT_FOUND for deleted streams too (tombstones included).
    if (ToNodeStatus(read) == ESDB_NODE_STREAM_DELETED) {
      return NodeError(ESDB_NODE_STREAM_NOT_FOUND, read.message());
    }
    return read;
  });
}

esdb_node_status LogNodeApi::SubscribeAll(void* ctx, const esdb_subscribe_options* options,
                                          const esdb_subscription_callbacks* callbacks,
                                          esdb_subscription** out, char* err, size_t err_size) {
  return Guarded("subscribe_all", err, err_size, [&]() -> absl::Status {
    if (options == nullptr || callbacks == nullptr || out == nullptr) {
      return Invalid("options, callbacks and out must not be NULL");
    }
    absl::StatusOr<LogSubscription*> subscription =
        Node(ctx).Subscribe(CopyAbiStruct(*options), CopyAbiStruct(*callbacks));
    if (!subscription.ok()) return subscription.status();
    *out = reinterpret_cast<esdb_subscription*>(*subscription);
    return absl::OkStatus();
  });
}

void LogNodeApi::UnsubscribeAll(void* ctx, esdb_subscription* subscription) {
  GuardedVoid("unsubscribe_all", [&] {
    if (subscription == nullptr) return;
    Node(ctx).Unsubscribe(reinterpret_cast<LogSubscription*>(subscription));
  });
}

esdb_node_status LogNodeApi::LastPosition(void* ctx, esdb_position* out, char* err,
                                          size_t err_size) {
  return Guarded("last_position", err, err_size, [&]() -> absl::Status {
    if (out == nullptr) return Invalid("out is NULL");
    *out = ToCPosition(Node(ctx).LastPosition());
    return absl::OkStatus();
  });
}

esdb_node_status LogNodeApi::GetStreamMetadata(void* ctx, const char* stream,
                                               void (*on_json)(void* user, const char* json,
                                                               size_t size),
                                               void* user, char* err, size_t err_size) {
  return Guarded("get_stream_metadata", err, err_size, [&]() -> absl::Status {
    if (stream == nullptr || on_json == nullptr) return Invalid("stream and on_json must be set");
    absl::StatusOr<std::string> json = Node(ctx).GetStreamMetadata(stream);
    if (!json.ok()) return json.status();
    on_json(user, json->c_str(), json->size());
    return absl::OkStatus();
  });
}

esdb_node_status LogNodeApi::SetStreamMetadata(void* ctx, const char* stream, const char* json,
                                               char* err, size_t err_size) {
  return Guarded("set_stream_metadata", err, err_size, [&]() -> absl::Status {
    if (stream == nullptr || json == nullptr) return Invalid("stream and json must be set");
    return Node(ctx).SetStreamMetadata(stream, json);
  });
}

esdb_node_status LogNodeApi::GetMembers(void* ctx, esdb_members_fn on_members, void* user,
                                        char* err, size_t err_size) {
  return Guarded("get_members", err, err_size, [&]() -> absl::Status {
    if (on_members == nullptr) return Invalid("on_members is NULL");
    const NodeApiView& view = *static_cast<NodeApiView*>(ctx);
    std::vector<NodeMember> members = view.node->Members();
    std::vector<esdb_member> views(members.size());
    std::vector<const esdb_member*> pointers;
    pointers.reserve(members.size());
    for (size_t i = 0; i < members.size(); ++i) {
      views[i].struct_size = sizeof(esdb_member);
      views[i].member_id = members[i].member_id.c_str();
      views[i].role = members[i].role;
      views[i].alive = members[i].alive ? 1 : 0;
      views[i].http_endpoint = members[i].http_endpoint.c_str();
      pointers.push_back(&views[i]);
    }
    on_members(user, pointers.data(), pointers.size(), view.self_id.c_str());
    return absl::OkStatus();
  });
}

esdb_node_status LogNodeApi::WatchMembers(void* ctx, void (*changed)(void* user), void* user,
                                          esdb_watch** out, char* err, size_t err_size) {
  return Guarded("watch_members", err, err_size, [&]() -> absl::Status {
    if (changed == nullptr || out == nullptr) return Invalid("changed and out must be set");
    absl::StatusOr<LogNode::Watch*> watch = Node(ctx).AddWatch(changed, user);
    if (!watch.ok()) return watch.status();
    *out = reinterpret_cast<esdb_watch*>(*watch);
    return absl::OkStatus();
  });
}

void LogNodeApi::UnwatchMembers(void* ctx, esdb_watch* watch) {
  GuardedVoid("unwatch_members", [&] {
    if (watch == nullptr) return;
    Node(ctx).RemoveWatch(reinterpret_cast<LogNode::Watch*>(watch));
  });
}

void LogNodeApi::Log(void* ctx, int32_t level, const char* message) {
  GuardedVoid("log", [&] {
    spdlog::level::level_enum spd_level;
    switch (level) {
      case ESDB_LOG_DEBUG:
        spd_level = spdlog::level::debug;
        break;
      case ESDB_LOG_INFO:
        spd_level = spdlog::level::info;
        break;
      case ESDB_LOG_WARN:
        spd_level = spdlog::level::warn;
        break;
      default:
        spd_level = spdlog::level::err;
        break;
    }
    const NodeApiView& view = *static_cast<NodeApiView*>(ctx);
    // One message, one line: a stream name with a newline must not forge a second log line.
    spdlog::log(spd_level, "[{}] {}", view.self_id,
                EscapeControl(message != nullptr ? message : ""));
  });
}

}  // namespace esdb::devnode
