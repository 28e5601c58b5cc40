// A testing aid: the dev node can serve a cluster view (members, roles, liveness) read from a JSON
// file that a test edits, so several hosts can be tested against one node:
//   {"members": [{"id": "m1", "role": "leader", "alive": true, "httpEndpoint": "m1.test:2113"},
//                {"id": "m2", "role": "follower"}, ...]}
// role: leader | follower | readOnlyReplica | other. alive defaults to true.
#ifndef ESDB_DEVNODE_CLUSTER_VIEW_H_
#define ESDB_DEVNODE_CLUSTER_VIEW_H_

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "devnode/log_node.h"

namespace esdb::devnode {

// InvalidArgument naming the member and field at fault.
absl::StatusOr<std::vector<NodeMember>> ParseClusterView(const std::string& json);

// Reads the file now (an error fails start-up), then polls it and applies every valid change to
// the node's membership (an invalid edit is logged and ignored: the last good view stays).
class ClusterViewFile {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterViewFile>> Watch(const std::string& path,
                                                                LogNode* node);
  ~ClusterViewFile();

 private:
  ClusterViewFile(std::string path, LogNode* node) : path_(std::move(path)), node_(node) {}
  absl::Status Load();
  std::string path_;
  LogNode* node_;
  std::string last_text_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace esdb::devnode

#endif  // ESDB_DEVNODE_CLUSTER_VIEW_H_
