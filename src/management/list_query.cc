#include "management/list_query.h"

#include <set>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/text.h"
#include "management/views.h"

namespace esdb {
namespace {

using nlohmann::json;

constexpr char kProductStatePrefix[] = "CONNECTOR_STATE_";
constexpr int64_t kMaxPage = 2147483647;  // KurrentDB's page is an int32

// Every name a filter field goes by: this API's and KurrentDB's JSON names first, then the proto
// field names gRPC transcoding also accepts, `paging.*` as a query string spells the nested
// message, and `instanceType` as KurrentDB's own sample requests write it.
constexpr std::pair<const char*, const char*> kNames[] = {
    {"state", "state"},
    {"instanceTypeName", "instanceTypeName"},
    {"connectorId", "connectorId"},
    {"includeSettings", "includeSettings"},
    {"includeConfiguration", "includeConfiguration"},
    {"showDeleted", "showDeleted"},
    {"paging", "paging"},
    {"page", "page"},
    {"pageSize", "pageSize"},
    {"skip", "skip"},
    {"take", "take"},
    {"host", "host"},
    {"instance_type_name", "instanceTypeName"},
    {"instanceType", "instanceTypeName"},
    {"connector_id", "connectorId"},
    {"include_settings", "includeSettings"},
    {"include_configuration", "includeConfiguration"},
    {"show_deleted", "showDeleted"},
    {"page_size", "pageSize"},
    {"paging.page", "page"},
    {"paging.pageSize", "pageSize"},
    {"paging.page_size", "pageSize"},
};

std::optional<std::string> Canonical(absl::string_view name) {
  for (const auto& [alias, canonical] : kNames) {
    if (name == alias) return canonical;
  }
  return std::nullopt;
}

absl::Status Unknown(absl::string_view what, absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown ", what, " '", Excerpt(name),
      "'; known: state, instanceTypeName, connectorId, includeSettings, includeConfiguration, "
      "showDeleted, page, pageSize (paging in a body), skip, take, host"));
}

// KurrentDB's state numbers (its ConnectorState enum), as names.
std::string StateToken(std::string value) {
  static constexpr const char* kByNumber[] = {"UNKNOWN", "ACTIVATING", "RUNNING", "DEACTIVATING",
                                              "STOPPED"};
  int n;
  if (absl::SimpleAtoi(value, &n) && n >= 0 && n < 5) {
    return absl::StrCat(kProductStatePrefix, kByNumber[n]);
  }
  return absl::AsciiStrToUpper(value);
}

// What both sources fill in, checked and resolved into a page by Finish.
struct Draft {
  ListQuery query;
  std::optional<int64_t> page, page_size, skip, take;
  std::set<std::string> seen;  // single-valued fields given so far

  absl::Status Once(const std::string& name) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(name, " is given more than once"));
    }
    return absl::OkStatus();
  }
  absl::Status SetBool(const std::string& name, bool value) {
    if (auto s = Once(name); !s.ok()) return s;
    if (name == "includeSettings") query.include_settings = value;
    if (name == "includeConfiguration") query.include_configuration = value;
    if (name == "showDeleted") query.show_deleted = value;
    return absl::OkStatus();
  }
  absl::Status SetNumber(const std::string& name, int64_t value) {
    if (auto s = Once(name); !s.ok()) return s;
    (name == "page" ? page : name == "pageSize" ? page_size : name == "skip" ? skip : take) = value;
    return absl::OkStatus();
  }
  void Add(const std::string& name, std::string value) {
    if (name == "state") query.states.push_back(StateToken(std::move(value)));
    if (name == "instanceTypeName") query.instance_types.push_back(std::move(value));
    if (name == "connectorId") query.connector_ids.push_back(std::move(value));
  }
};

bool IsBool(const std::string& name) {
  return name == "includeSettings" || name == "includeConfiguration" || name == "showDeleted";
}
bool IsNumber(const std::string& name) {
  return name == "page" || name == "pageSize" || name == "skip" || name == "take";
}
bool IsList(const std::string& name) {
  return name == "state" || name == "instanceTypeName" || name == "connectorId";
}

absl::Status Range(const char* name, std::optional<int64_t> v, int64_t lo, int64_t hi) {
  if (!v || (*v >= lo && *v <= hi)) return absl::OkStatus();
  if (hi == INT64_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be a whole number >= ", lo));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be a whole number from ", lo, " to ", hi));
}

absl::StatusOr<ListQuery> Finish(Draft d) {
  if ((d.page || d.page_size) && (d.skip || d.take)) {
    return absl::InvalidArgumentError("page and pageSize cannot be combined with skip and take");
  }
  for (absl::Status s : {Range("page", d.page, 1, kMaxPage), Range("pageSize", d.page_size, 1, 100),
                         Range("skip", d.skip, 0, INT64_MAX), Range("take", d.take, 1, 1000)}) {
    if (!s.ok()) return s;
  }
  ListQuery& q = d.query;
  if (d.page || d.page_size) {
    q.take = d.page_size.value_or(100);
    q.skip = (d.page.value_or(1) - 1) * q.take;
  } else {
    q.skip = d.skip.value_or(0);
    q.take = d.take.value_or(100);
  }
  return std::move(d.query);
}

}  // namespace

bool StateFilterMatches(absl::string_view filter, absl::string_view state) {
  if (absl::StartsWithIgnoreCase(filter, kProductStatePrefix)) {
    filter.remove_prefix(sizeof(kProductStatePrefix) - 1);
    if (absl::EqualsIgnoreCase(filter, "STOPPED")) {
      return state == "STOPPED" || state == "FAILED" || state == "DELETED";
    }
    if (absl::EqualsIgnoreCase(filter, "FAILED") || absl::EqualsIgnoreCase(filter, "DELETED")) {
      return false;  // not KurrentDB's
    }
  }
  return absl::EqualsIgnoreCase(filter, state);
}

bool ListQuery::Matches(const Connector& c) const {
  const bool deleted = IsDeleted(c);
  if (!c.exists && !(deleted && show_deleted)) return false;
  if (!states.empty()) {
    const std::string state = ViewStateName(c);
    if (absl::c_none_of(states,
                        [&](const std::string& f) { return StateFilterMatches(f, state); })) {
      return false;
    }
  }
  auto type = c.settings.find("instanceTypeName");
  if (!instance_types.empty() &&
      (type == c.settings.end() || !absl::c_linear_search(instance_types, type->second))) {
    return false;
  }
  if (!connector_ids.empty() && !absl::c_linear_search(connector_ids, c.id)) return false;
  if (host && !(c.exists && c.state == ConnectorState::kRunning && c.host == *host)) return false;
  return true;
}

absl::StatusOr<ListQuery> ListQueryFromUrl(absl::string_view query) {
  Draft d;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    absl::StatusOr<std::string> decoded_key = PercentDecode(kv.first, PlusSign::kSpace);
    absl::StatusOr<std::string> decoded_value = PercentDecode(kv.second, PlusSign::kSpace);
    if (!decoded_key.ok() || !decoded_value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter: ",
                       (decoded_key.ok() ? decoded_value : decoded_key).status().message()));
    }
    const std::string key = *std::move(decoded_key);
    std::string value = *std::move(decoded_value);
    auto name = Canonical(key);
    if (!name || *name == "paging") return Unknown("query parameter", key);
    if (IsList(*name)) {
      if (*name != "state") {
        d.Add(*name, std::move(value));
        continue;
      }
      for (absl::string_view s : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        d.Add(*name, std::string(s));
      }
    } else if (IsBool(*name)) {
      const bool yes = absl::EqualsIgnoreCase(value, "true");
      if (!yes && !absl::EqualsIgnoreCase(value, "false")) {
        return absl::InvalidArgumentError(absl::StrCat(key, " must be true or false"));
      }
      if (auto s = d.SetBool(*name, yes); !s.ok()) return s;
    } else if (IsNumber(*name)) {
      int64_t n;
      if (!absl::SimpleAtoi(value, &n)) n = -1;  // reported by Finish with the allowed range
      if (auto s = d.SetNumber(*name, n); !s.ok()) return s;
    } else {  // host
      if (auto s = d.Once(*name); !s.ok()) return s;
      d.query.host = std::move(value);
    }
  }
  return Finish(std::move(d));
}

absl::StatusOr<ListQuery> ListQueryFromJson(const json& body) {
  if (!body.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the list filter must be a JSON object, not ", body.type_name()));
  }
  Draft d;
  // A field of the body, or of its "paging" object, by its canonical name.
  auto field = [&d](const std::string& name, const std::string& key,
                    const json& v) -> absl::Status {
    if (v.is_null()) return absl::OkStatus();  // as in protobuf JSON: the field's default
    if (IsList(name)) {
      const json list = v.is_array() ? v : json::array({v});
      for (const json& item : list) {
        if (item.is_string()) {
          d.Add(name, item.get<std::string>());
        } else if (name == "state" && item.is_number_integer()) {
          d.Add(name, item.dump());
        } else {
          return absl::InvalidArgumentError(
              absl::StrCat(key, " must be a list of strings, not one holding ", item.type_name()));
        }
      }
      return absl::OkStatus();
    }
    if (IsBool(name)) {
      if (!v.is_boolean()) {
        return absl::InvalidArgumentError(absl::StrCat(key, " must be true or false"));
      }
      return d.SetBool(name, v.get<bool>());
    }
    if (IsNumber(name)) {
      if (!v.is_number_integer()) {
        return absl::InvalidArgumentError(absl::StrCat(key, " must be a whole number"));
      }
      return d.SetNumber(name, v.get<int64_t>());
    }
    if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat(key, " must be a string"));
    if (auto s = d.Once(name); !s.ok()) return s;
    d.query.host = v.get<std::string>();
    return absl::OkStatus();
  };
  for (auto it = body.begin(); it != body.end(); ++it) {
    auto name = Canonical(it.key());
    if (!name || absl::StrContains(it.key(), '.')) return Unknown("field", it.key());
    if (*name != "paging") {
      if (auto s = field(*name, it.key(), it.value()); !s.ok()) return s;
      continue;
    }
    if (it.value().is_null()) continue;
    if (!it.value().is_object()) {
      return absl::InvalidArgumentError(
          R"(paging must be an object: {"page": 1, "pageSize": 100})");
    }
    for (auto p = it.value().begin(); p != it.value().end(); ++p) {
      auto inner = Canonical(p.key());
      if (!inner || (*inner != "page" && *inner != "pageSize")) {
        return Unknown("field", absl::StrCat("paging.", p.key()));
      }
      if (auto s = field(*inner, absl::StrCat("paging.", p.key()), p.value()); !s.ok()) return s;
    }
  }
  return Finish(std::move(d));
}

}  // namespace esdb
