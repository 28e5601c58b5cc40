#include "management/configuration.h"

#include <map>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/text.h"

namespace esdb {
namespace {

using nlohmann::json;

absl::Status FlattenInto(const json& node, const std::string& key, size_t depth, SettingsMap& out) {
  if ((node.is_object() || node.is_array()) && depth > kMaxRequestJsonDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration is nested more than ", kMaxRequestJsonDepth, " levels deep"));
  }
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("configuration: empty key under '", Excerpt(key), "'"));
      }
      std::string child = key.empty() ? it.key() : absl::StrCat(key, ":", it.key());
      if (auto s = FlattenInto(it.value(), child, depth + 1, out); !s.ok()) return s;
    }
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (auto s = FlattenInto(node[i], absl::StrCat(key, ":", i), depth + 1, out); !s.ok()) {
        return s;
      }
    }
  } else if (node.is_string()) {
    out[key] = node.get<std::string>();
  } else if (!node.is_null()) {  // numbers and booleans
    out[key] = node.dump();
  }
  return absl::OkStatus();
}

// One level of the nested view: a value, keys below it, or both (then the keys win).
struct Node {
  std::string value;
  std::map<std::string, Node> children;
};

// `s` as JSON shows it: a boolean, a number that reads back as the same text, else a string.
json Leaf(const std::string& s) {
  if (absl::EqualsIgnoreCase(s, "true")) return true;
  if (absl::EqualsIgnoreCase(s, "false")) return false;
  if (!s.empty() && (absl::ascii_isdigit(s[0]) || s[0] == '-')) {
    json number = json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (number.is_number() && number.dump() == s) return number;
  }
  return s;
}

// True when the keys are exactly "0", "1", ..., "n-1" (so an array loses nothing): n distinct
// indexes below n.
bool IsIndexList(const std::map<std::string, Node>& children) {
  for (const auto& [k, unused] : children) {
    if (k.empty() || k.size() > 9 || (k.size() > 1 && k[0] == '0') ||
        !absl::c_all_of(k, [](char ch) { return absl::ascii_isdigit(ch); })) {
      return false;
    }
    if (std::stoul(k) >= children.size()) return false;
  }
  return true;
}

json ToJson(const Node& node, bool top = false) {
  if (node.children.empty() && !top) return Leaf(node.value);
  if (!top && IsIndexList(node.children)) {
    json out = json::array();
    for (size_t i = 0; i < node.children.size(); ++i) {
      out.push_back(ToJson(node.children.at(std::to_string(i))));
    }
    return out;
  }
  json out = json::object();
  for (const auto& [k, child] : node.children) out[k] = ToJson(child);
  return out;
}

}  // namespace

absl::StatusOr<SettingsMap> FlattenConfiguration(const json& configuration) {
  if (!configuration.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration must be a JSON object, not ", configuration.type_name()));
  }
  SettingsMap out;
  if (auto s = FlattenInto(configuration, "", 1, out); !s.ok()) return s;
  return out;
}

json NestSettings(const json& flat) {
  Node root;
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    if (!it.value().is_string()) continue;
    std::vector<std::string> parts =
        absl::StrSplit(it.key(), absl::MaxSplits(':', kMaxRequestJsonDepth - 1));
    Node* node = &root;
    for (const std::string& part : parts) node = &node->children[part];
    node->value = it.value().get<std::string>();
  }
  return ToJson(root, /*top=*/true);  // always an object
}

}  // namespace esdb
