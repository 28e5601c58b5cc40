#include "sidecar/members_watch.h"

#include <optional>

namespace esdb::sidecar {

MembersWatch::MembersWatch(std::function<bool(std::vector<MemberView>*)> read,
                           std::function<void()> changed, absl::Duration every)
    : read_(std::move(read)), changed_(std::move(changed)), every_(every) {
  thread_ = std::thread([this] { Loop(); });
}

MembersWatch::~MembersWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void MembersWatch::Loop() {
  std::optional<std::vector<MemberView>> last;
  while (true) {
    std::vector<MemberView> now;
    if (read_(&now)) {
      if (last.has_value() && *last != now) changed_();
      last = std::move(now);
    }
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), every_)) return;
  }
}

}  // namespace esdb::sidecar
