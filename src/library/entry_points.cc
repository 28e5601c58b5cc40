// The library's only exported symbols (esdb/connectors.h). Every call catches everything: no
// exception crosses the C boundary.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/abi_support.h"
#include "esdb/connectors.h"
#include "library/library.h"

struct esdb_connectors {
  std::unique_ptr<esdb::Library> library;
};

namespace {

char* CopyString(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

void Fill(esdb_http_response* out, int status, const std::string& content_type,
          const std::string& body,
          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  out->status = status;
  out->content_type = CopyString(content_type);
  out->body = CopyString(body);
  out->body_size = out->body != nullptr ? body.size() : 0;
  // Headers only for hosts whose struct has the fields (struct_size says how far it goes).
  if (!ESDB_HAS_FIELD(esdb_http_response, out, header_count)) return;
  out->headers = nullptr;
  out->header_count = 0;
  if (headers.empty()) return;
  // One array of header structs and one of pointers to them; freed in free_response.
  auto* items =
      static_cast<esdb_http_header*>(std::calloc(headers.size(), sizeof(esdb_http_header)));
  auto* ptrs =
      static_cast<const esdb_http_header**>(std::calloc(headers.size(), sizeof(esdb_http_header*)));
  if (items == nullptr || ptrs == nullptr) {
    std::free(items);
    std::free(ptrs);
    return;
  }
  for (size_t i = 0; i < headers.size(); ++i) {
    items[i] = {CopyString(headers[i].first), CopyString(headers[i].second)};
    ptrs[i] = &items[i];
  }
  out->headers = ptrs;
  out->header_count = headers.size();
}

// Hosts whose struct ends before the caller fields send anonymous requests (fail closed).
esdb::Caller CallerOf(const esdb_http_request& r) {
  esdb::Caller c;
  if (!ESDB_HAS_FIELD(esdb_http_request, &r, role_count)) return c;
  if (r.auth == ESDB_AUTH_INSECURE) c.kind = esdb::Caller::Kind::kInsecure;
  if (r.auth != ESDB_AUTH_USER || r.user == nullptr) return c;
  c.kind = esdb::Caller::Kind::kUser;
  c.name = r.user;
  for (size_t i = 0; r.roles != nullptr && i < r.role_count; ++i) {
    if (r.roles[i] != nullptr) c.roles.emplace_back(r.roles[i]);
  }
  return c;
}

}  // namespace

extern "C" {

ESDB_CONNECTORS_EXPORT uint32_t esdb_connectors_abi_version(void) {
  return ESDB_CONNECTORS_ABI_VERSION;
}

ESDB_CONNECTORS_EXPORT int32_t esdb_connectors_start(const esdb_node_api* node,
                                                     const char* config_json, esdb_connectors** out,
                                                     char* err, size_t err_size) {
  try {
    if (out == nullptr) {
      esdb::WriteError(err, err_size, "esdb_connectors_start: out must not be NULL");
      return 1;
    }
    auto config = esdb::LibraryConfig::Parse(config_json ? config_json : "");
    if (!config.ok()) {
      esdb::WriteError(err, err_size, config.status().message());
      return 1;
    }
    auto lib = esdb::Library::Start(node, *config);
    if (!lib.ok()) {
      esdb::WriteError(err, err_size, lib.status().message());
      return 1;
    }
    *out = new esdb_connectors{std::move(*lib)};
    return 0;
  } catch (const std::exception& e) {
    esdb::WriteError(err, err_size, std::string("esdb_connectors_start: ") + e.what());
    return 1;
  } catch (...) {
    esdb::WriteError(err, err_size, "esdb_connectors_start: unknown error");
    return 1;
  }
}

ESDB_CONNECTORS_EXPORT void esdb_connectors_handle_http(esdb_connectors* lib,
                                                        const esdb_http_request* request,
                                                        esdb_http_response* response) {
  if (response == nullptr) return;
  try {
    if (lib == nullptr || request == nullptr || request->method == nullptr ||
        request->path == nullptr) {
      Fill(response, 500, "application/json",
           R"({"error":"internal","message":"bad call to esdb_connectors_handle_http"})");
      return;
    }
    esdb::ApiRequest req;
    req.method = request->method;
    req.path = request->path;
    req.query = request->query ? request->query : "";
    if (request->body != nullptr) req.body.assign(request->body, request->body_size);
    for (size_t i = 0; i < request->header_count; ++i) {
      const esdb_http_header* h = request->headers[i];
      if (h == nullptr || h->name == nullptr || h->value == nullptr) continue;
      if (strcasecmp(h->name, "content-type") == 0) req.content_type = h->value;
      if (strcasecmp(h->name, "origin") == 0) req.origin = h->value;
      if (strcasecmp(h->name, "host") == 0) req.host = h->value;
    }
    req.caller = CallerOf(*request);
    esdb::ApiResponse r = lib->library->api().Handle(req);
    Fill(response, r.status, r.content_type, r.body, r.headers);
  } catch (const std::exception& e) {
    Fill(response, 500, "application/json",
         std::string(R"({"error":"internal","message":"unexpected error"})"));
  } catch (...) {
    Fill(response, 500, "application/json", R"({"error":"internal","message":"unexpected error"})");
  }
}

ESDB_CONNECTORS_EXPORT void esdb_connectors_free_response(esdb_http_response* response) {
  if (response == nullptr) return;
  std::free(const_cast<char*>(response->content_type));
  std::free(response->body);
  response->content_type = nullptr;
  response->body = nullptr;
  response->body_size = 0;
  if (!ESDB_HAS_FIELD(esdb_http_response, response, header_count) || response->headers == nullptr) {
    return;
  }
  for (size_t i = 0; i < response->header_count; ++i) {
    std::free(const_cast<char*>(response->headers[i]->name));
    std::free(const_cast<char*>(response->headers[i]->value));
  }
  std::free(const_cast<esdb_http_header*>(response->headers[0]));  // the array of structs
  std::free(const_cast<esdb_http_header**>(response->headers));
  response->headers = nullptr;
  response->header_count = 0;
}

ESDB_CONNECTORS_EXPORT char* esdb_connectors_metrics(esdb_connectors* lib) {
  try {
    return CopyString(lib != nullptr ? lib->library->api().RenderMetrics() : "");
  } catch (...) {
    return CopyString("");
  }
}

ESDB_CONNECTORS_EXPORT void esdb_connectors_free_string(char* text) { std::free(text); }

ESDB_CONNECTORS_EXPORT void esdb_connectors_stop(esdb_connectors* lib) {
  try {
    delete lib;
  } catch (...) {
  }
}

}  // extern "C"
