#include "sidecar/node_api.h"

#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include "core/abi_support.h"
#include "sidecar/grpc_subscription.h"
#include "sidecar/members_watch.h"

// The opaque handles of esdb/node.h are these types here.
struct esdb_subscription {
  std::unique_ptr<esdb::sidecar::GrpcSubscription> impl;
};
struct esdb_watch {
  std::unique_ptr<esdb::sidecar::MembersWatch> impl;
};

namespace esdb::sidecar {

struct Trampolines {
  static const SidecarNodeApi& Self(void* ctx) { return *static_cast<SidecarNodeApi*>(ctx); }

  static esdb_node_status Report(const CallOutcome& out, char* err, size_t err_size) {
    if (out.status != ESDB_NODE_OK) WriteError(err, err_size, out.message);
    return out.status;
  }

  // Runs `body`; an exception becomes ESDB_NODE_ERROR with its text.
  template <typename Body>
  static esdb_node_status Guard(char* err, size_t err_size, Body&& body) {
    try {
      return body();
    } catch (const std::exception& e) {
      WriteError(err, err_size, std::string("side-car: ") + e.what());
    } catch (...) {
      WriteError(err, err_size, "side-car: unknown exception");
    }
    return ESDB_NODE_ERROR;
  }

  static esdb_node_status Append(void* ctx, const char* stream, int64_t expected,
                                 const esdb_event_data* const* events, size_t count,
                                 esdb_append_result* result, char* err, size_t err_size) {
    return Guard(err, err_size, [&] {
      if (stream == nullptr || (count > 0 && events == nullptr)) {
        WriteError(err, err_size, "append: stream and events are required");
        return ESDB_NODE_INVALID_ARGUMENT;
      }
      return Report(Self(ctx).node_->Append(stream, expected, events, count, result), err,
                    err_size);
    });
  }

  static esdb_node_status ReadStream(void* ctx, const char* stream, int32_t direction,
                                     uint64_t from, uint64_t max, esdb_read_event_fn on_event,
                                     void* user, char* err, size_t err_size) {
    return Guard(err, err_size, [&] {
      if (stream == nullptr || on_event == nullptr) {
        WriteError(err, err_size, "read_stream: stream and on_event are required");
        return ESDB_NODE_INVALID_ARGUMENT;
      }
      return Report(Self(ctx).node_->ReadStream(
                        stream, direction, from, max,
                        [&](const esdb_recorded_event& e) { return on_event(user, &e) == 0; }),
                    err, err_size);
    });
  }

  static esdb_node_status SubscribeAll(void* ctx, const esdb_subscribe_options* options,
                                       const esdb_subscription_callbacks* callbacks,
                                       esdb_subscription** out, char* err, size_t err_size) {
    return Guard(err, err_size, [&] {
      if (options == nullptr || callbacks == nullptr || out == nullptr ||
          callbacks->on_events == nullptr) {
        WriteError(err, err_size,
                   "subscribe_all: options, callbacks.on_events and out are required");
        return ESDB_NODE_INVALID_ARGUMENT;
      }
      CallOutcome failure;
      auto sub = GrpcSubscription::Start(Self(ctx).node_->connection(), CopyAbiStruct(*options),
                                         CopyAbiStruct(*callbacks), &failure,
                                         Self(ctx).options_.subscription_queue);
      if (!sub.ok()) return Report(failure, err, err_size);
      *out = new esdb_subscription{*std::move(sub)};
      return ESDB_NODE_OK;
    });
  }

  static void Unsubscribe(void* /*ctx*/, esdb_subscription* subscription) {
    delete subscription;  // ~GrpcSubscription cancels and waits until no callback runs
  }

  static esdb_node_status LastPosition(void* ctx, esdb_position* out, char* err, size_t err_size) {
    return Guard(err, err_size, [&] {
      if (out == nullptr) return ESDB_NODE_INVALID_ARGUMENT;
      return Report(Self(ctx).node_->LastPosition(out), err, err_size);
    });
  }

  static esdb_node_status GetMetadata(void* ctx, const char* stream,
                                      void (*on_json)(void*, const char*, size_t), void* user,
                                      char* err, size_t err_size) {
    return Guard(err, err_size, [&] {
      if (stream == nullptr || on_json == nullptr) return ESDB_NODE_INVALID_ARGUMENT;
      std::string json;
      CallOutcome out = Self(ctx).node_->GetStreamMetadata(stream, &json);
      if (out.status == ESDB_NODE_OK) on_json(user, json.c_str(), json.size());
      return Report(out, err, err_size);
    });
  }

  static esdb_node_status SetMetadata(void* ctx, const char* stream, const char* json, char* err,
                                      size_t err_size) {
    return Guard(err, err_size, [&] {
      if (stream == nullptr || json == nullptr) return ESDB_NODE_INVALID_ARGUMENT;
      return Report(Self(ctx).node_->SetStreamMetadata(stream, json), err, err_size);
    });
  }

  static esdb_node_status GetMembers(void* ctx, esdb_members_fn on_members, void* user, char* err,
                                     size_t err_size) {
    return Guard(err, err_size, [&] {
      if (on_members == nullptr) return ESDB_NODE_INVALID_ARGUMENT;
      std::vector<MemberView> members;
      CallOutcome out = Self(ctx).node_->GetMembers(&members);
      if (out.status != ESDB_NODE_OK) return Report(out, err, err_size);
      std::vector<esdb_member> c(members.size());
      std::vector<const esdb_member*> pointers(members.size());
      for (size_t i = 0; i < members.size(); ++i) {
        c[i] = esdb_member{sizeof(esdb_member), members[i].id.c_str(), members[i].role,
                           members[i].alive ? 1 : 0, members[i].http_endpoint.c_str()};
        pointers[i] = &c[i];
      }
      on_members(user, pointers.data(), pointers.size(), Self(ctx).node_->self_id().c_str());
      return ESDB_NODE_OK;
    });
  }

  static esdb_node_status WatchMembers(void* ctx, void (*changed)(void*), void* user,
                                       esdb_watch** out, char* err, size_t err_size) {
    return Guard(err, err_size, [&] {
      if (changed == nullptr || out == nullptr) return ESDB_NODE_INVALID_ARGUMENT;
      const GrpcNode* node = Self(ctx).node_;
      *out = new esdb_watch{std::make_unique<MembersWatch>(
          [node](std::vector<MemberView>* view) {
            return node->GetMembers(view).status == ESDB_NODE_OK;
          },
          [changed, user] { changed(user); }, Self(ctx).options_.members_poll)};
      return ESDB_NODE_OK;
    });
  }

  static void UnwatchMembers(void* /*ctx*/, esdb_watch* watch) { delete watch; }

  static void Log(void* ctx, int32_t level, const char* message) {
    try {
      const auto& log = Self(ctx).options_.log;
      if (log) log(level, message != nullptr ? message : "");
    } catch (...) {
      // Logging must never take the caller down.
    }
  }
};

SidecarNodeApi::SidecarNodeApi(const GrpcNode* node, NodeApiOptions options)
    : node_(node), options_(std::move(options)) {
  api_.struct_size = sizeof(api_);
  api_.abi_version = ESDB_NODE_ABI_VERSION;
  api_.ctx = this;
  api_.node_version = options_.node_version.c_str();
  api_.append = &Trampolines::Append;
  api_.read_stream = &Trampolines::ReadStream;
  api_.subscribe_all = &Trampolines::SubscribeAll;
  api_.unsubscribe_all = &Trampolines::Unsubscribe;
  api_.last_position = &Trampolines::LastPosition;
  api_.get_stream_metadata = &Trampolines::GetMetadata;
  api_.set_stream_metadata = &Trampolines::SetMetadata;
  api_.get_members = &Trampolines::GetMembers;
  api_.watch_members = &Trampolines::WatchMembers;
  api_.unwatch_members = &Trampolines::UnwatchMembers;
  api_.log = &Trampolines::Log;
}

}  // namespace esdb::sidecar
