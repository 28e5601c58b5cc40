#include "hosting/connectors_library.h"

#include <dlfcn.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace esdb::hosting {

bool IsConnectorsPath(const std::string& path) {
  return path == "/connectors" || path.starts_with("/connectors/") ||
         path == "/connector-plugins" || path == "/ui" || path.starts_with("/ui/");
}

absl::StatusOr<std::unique_ptr<ConnectorsLibrary>> ConnectorsLibrary::Load(
    const std::string& path, const esdb_node_api* node, const std::string& config_json) {
  std::unique_ptr<ConnectorsLibrary> lib(new ConnectorsLibrary());
  lib->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib->handle_ == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot load the connectors library ", path, ": ",
                                            dlerror()));
  }
  auto sym = [&](const char* name) { return dlsym(lib->handle_, name); };
  auto version = reinterpret_cast<decltype(&esdb_connectors_abi_version)>(
      sym("esdb_connectors_abi_version"));
  auto start = reinterpret_cast<decltype(&esdb_connectors_start)>(sym("esdb_connectors_start"));
  lib->handle_http_ =
      reinterpret_cast<decltype(lib->handle_http_)>(sym("esdb_connectors_handle_http"));
  lib->free_response_ =
      reinterpret_cast<decltype(lib->free_response_)>(sym("esdb_connectors_free_response"));
  lib->metrics_ = reinterpret_cast<decltype(lib->metrics_)>(sym("esdb_connectors_metrics"));
  lib->free_string_ =
      reinterpret_cast<decltype(lib->free_string_)>(sym("esdb_connectors_free_string"));
  lib->stop_ = reinterpret_cast<decltype(lib->stop_)>(sym("esdb_connectors_stop"));
  if (!version || !start || !lib->handle_http_ || !lib->free_response_ || !lib->metrics_ ||
      !lib->free_string_ || !lib->stop_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not an esdb-connectors library (entry points missing)"));
  }
  // Any library at least as new as what this host calls works: it only ever appends.
  if (!ESDB_ABI_SATISFIES(version(), kNeededLibraryAbi)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " has library ABI ", version(),
                                                      "; this host needs ", kNeededLibraryAbi,
                                                      " or newer"));
  }
  char err[1024] = "";
  if (start(node, config_json.c_str(), &lib->lib_, err, sizeof err) != 0) {
    return absl::InternalError(absl::StrCat("the connectors library did not start: ", err));
  }
  return lib;
}

ConnectorsLibrary::~ConnectorsLibrary() {
  if (lib_ != nullptr) stop_(lib_);
  if (handle_ != nullptr) dlclose(handle_);
}

http::Response ConnectorsLibrary::Handle(const http::Request& request) const {
  std::vector<esdb_http_header> headers(request.headers.size());
  std::vector<const esdb_http_header*> ptrs(request.headers.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    headers[i] = {request.headers[i].first.c_str(), request.headers[i].second.c_str()};
    ptrs[i] = &headers[i];
  }
  esdb_http_request req{};
  req.struct_size = sizeof req;
  req.method = request.method.c_str();
  req.path = request.path.c_str();
  req.query = request.query.c_str();
  req.headers = ptrs.data();
  req.header_count = ptrs.size();
  req.body = request.body.data();
  req.body_size = request.body.size();
  const http::Principal& who = request.principal;
  std::vector<const char*> roles;
  for (const std::string& r : who.roles) roles.push_back(r.c_str());
  switch (who.kind) {
    case http::Principal::Kind::kAnonymous: req.auth = ESDB_AUTH_ANONYMOUS; break;
    case http::Principal::Kind::kUser: req.auth = ESDB_AUTH_USER; break;
    case http::Principal::Kind::kInsecure: req.auth = ESDB_AUTH_INSECURE; break;
  }
  req.user = who.name.c_str();
  req.roles = roles.data();
  req.role_count = roles.size();
  esdb_http_response resp{};
  resp.struct_size = sizeof resp;
  handle_http_(lib_, &req, &resp);
  http::Response out;
  out.status = resp.status;
  out.content_type = resp.content_type ? resp.content_type : "application/json";
  if (resp.body != nullptr) out.body.assign(resp.body, resp.body_size);
  for (size_t i = 0; i < resp.header_count; ++i) {
    const esdb_http_header* h = resp.headers[i];
    if (h != nullptr && h->name != nullptr && h->value != nullptr) {
      out.headers.emplace_back(h->name, h->value);
    }
  }
  free_response_(&resp);
  return out;
}

std::string ConnectorsLibrary::Metrics() const {
  char* text = metrics_(lib_);
  std::string out = text ? text : "";
  free_string_(text);
  return out;
}

}  // namespace esdb::hosting
