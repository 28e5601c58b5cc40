// The C face of LogNode: esdb_node_api tables whose functions are static trampolines into it.
#ifndef ESDB_DEVNODE_LOG_NODE_API_H_
#define ESDB_DEVNODE_LOG_NODE_API_H_

#include <memory>
#include <string>

#include "esdb/node.h"

namespace esdb::devnode {

class LogNode;

// One ABI table; its ctx points back at the view. Views differ only in the member they report
// as self.
struct NodeApiView {
  esdb_node_api table{};
  LogNode* node = nullptr;
  std::string self_id;
};

// The trampolines: each catches every exception and reports it as ESDB_NODE_ERROR with the text
// in err (void functions log it instead), so nothing unwinds into C callers.
class LogNodeApi {
 public:
  // A view of `node` whose table is fully filled in.
  static std::unique_ptr<NodeApiView> MakeView(LogNode* node, std::string self_id);

 private:
  static esdb_node_status Append(void* ctx, const char* stream, int64_t expected_revision,
                                 const esdb_event_data* const* events, size_t count,
                                 esdb_append_result* result, char* err, size_t err_size);
  static esdb_node_status ReadStream(void* ctx, const char* stream, int32_t direction,
                                     uint64_t from_revision, uint64_t max_count,
                                     esdb_read_event_fn on_event, void* user, char* err,
                                     size_t err_size);
  static esdb_node_status SubscribeAll(void* ctx, const esdb_subscribe_options* options,
                                       const esdb_subscription_callbacks* callbacks,
                                       esdb_subscription** out, char* err, size_t err_size);
  static void UnsubscribeAll(void* ctx, esdb_subscription* subscription);
  static esdb_node_status LastPosition(void* ctx, esdb_position* out, char* err, size_t err_size);
  static esdb_node_status GetStreamMetadata(void* ctx, const char* stream,
                                            void (*on_json)(void* user, const char* json,
                                                            size_t size),
                                            void* user, char* err, size_t err_size);
  static esdb_node_status SetStreamMetadata(void* ctx, const char* stream, const char* json,
                                            char* err, size_t err_size);
  static esdb_node_status GetMembers(void* ctx, esdb_members_fn on_members, void* user, char* err,
                                     size_t err_size);
  static esdb_node_status WatchMembers(void* ctx, void (*changed)(void* user), void* user,
                                       esdb_watch** out, char* err, size_t err_size);
  static void UnwatchMembers(void* ctx, esdb_watch* watch);
  static void Log(void* ctx, int32_t level, const char* message);
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_LOG_NODE_API_H_
