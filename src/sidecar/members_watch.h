// watch_members over gRPC: gossip is polled on a thread of its own and changed() is called
// whenever the reported membership (ids, roles, liveness, endpoints) differs from the last one
// read successfully. A failed read changes nothing: the node being away is not a new view.
#ifndef ESDB_SIDECAR_MEMBERS_WATCH_H_
#define ESDB_SIDECAR_MEMBERS_WATCH_H_

#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sidecar/members.h"

namespace esdb::sidecar {

class MembersWatch {
 public:
  // `read` fetches the current view (false: not available now); `changed` runs on the watch's
  // thread. The first successful read is the baseline and does not call `changed`.
  MembersWatch(std::function<bool(std::vector<MemberView>*)> read, std::function<void()> changed,
               absl::Duration every);
  // Stops polling and joins the thread (waits for a running changed()).
  ~MembersWatch();
  MembersWatch(const MembersWatch&) = delete;
  MembersWatch& operator=(const MembersWatch&) = delete;

 private:
  void Loop();

  const std::function<bool(std::vector<MemberView>*)> read_;
  const std::function<void()> changed_;
  const absl::Duration every_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace esdb::sidecar

#endif  // ESDB_SIDECAR_MEMBERS_WATCH_H_
