#include "devnode/cluster_view.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace esdb::devnode {

absl::StatusOr<std::vector<NodeMember>> ParseClusterView(const std::string& text) {
  auto j = ParseJson(text, kMaxRequestJsonDepth, "cluster view").value_or(nullptr);
  if (!j.is_object() || !j.contains("members") || !j["members"].is_array()) {
    return absl::InvalidArgumentError(R"(cluster view must be {"members": [...]})");
  }
  std::vector<NodeMember> out;
  for (const auto& m : j["members"]) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string() ||
        m["id"].get<std::string>().empty()) {
      return absl::InvalidArgumentError("cluster view: every member needs a non-empty \"id\"");
    }
    NodeMember member;
    member.member_id = m["id"];
    std::string role = m.value("role", std::string("follower"));
    if (role == "leader") member.role = ESDB_ROLE_LEADER;
    else if (role == "follower") member.role = ESDB_ROLE_FOLLOWER;
    else if (role == "readOnlyReplica") member.role = ESDB_ROLE_READ_ONLY_REPLICA;
    else if (role == "other") member.role = ESDB_ROLE_OTHER;
    else {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster view: member ", member.member_id, ": role '", role,
          "' is not leader, follower, readOnlyReplica or other"));
    }
    if (m.contains("alive") && !m["alive"].is_boolean()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster view: member ", member.member_id, ": alive must be true or false"));
    }
    member.alive = m.value("alive", true);
    member.http_endpoint = m.value("httpEndpoint", std::string());
    out.push_back(std::move(member));
  }
  return out;
}

absl::Status ClusterViewFile::Load() {
  std::ifstream in(path_);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read cluster view ", path_));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text == last_text_) return absl::OkStatus();
  auto members = ParseClusterView(text);
  if (!members.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", members.status().message()));
  }
  last_text_ = text;
  node_->SetMembers(std::move(*members));
  spdlog::info("cluster view {} applied", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ClusterViewFile>> ClusterViewFile::Watch(const std::string& path,
                                                                        LogNode* node) {
  std::unique_ptr<ClusterViewFile> w(new ClusterViewFile(path, node));
  if (auto s = w->Load(); !s.ok()) return s;
  w->thread_ = std::thread([raw = w.get()] {
    while (!raw->stop_.load()) {
      // Polling a small file: simple and portable; edits show up within 100 ms.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (auto s = raw->Load(); !s.ok()) {
        static std::string last_error;
        if (last_error != s.message()) spdlog::error("{}", std::string(s.message()));
        last_error = std::string(s.message());
      }
    }
  });
  return w;
}

ClusterViewFile::~ClusterViewFile() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace esdb::devnode
