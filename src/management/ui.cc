#include "management/ui.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/text.h"
#include "management/ui_assets.h"

namespace esdb {
namespace {

// No inline script or style, no other origin: a value injected into the page cannot run, and
// the page can reach nothing but this host's API. Forms are built by script, never submitted.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

void AddPageHeaders(ApiResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  // The files change with the library; a stale script against a newer API helps nobody.
  r.headers.emplace_back("Cache-Control", "no-cache");
}

}  // namespace

bool IsUiPath(std::string_view path) { return path == "/ui" || path.starts_with("/ui/"); }

ApiResponse ServeUi(const ApiRequest& request) {
  ApiResponse r;
  if (request.method != "GET" && request.method != "HEAD") {
    r.status = 405;
    r.body = DumpJson(
        {{"error", "method-not-allowed"},
         {"message", absl::StrCat(Excerpt(request.method), " is not allowed here; use GET")}});
    r.headers.emplace_back("Allow", "GET");
  } else {
    const UiAsset* found = nullptr;
    for (size_t i = 0; i < kUiAssetCount; ++i) {
      if (request.path == kUiAssets[i].route) found = &kUiAssets[i];
    }
    if (found == nullptr) {
      r.status = 404;
      r.body = R"({"error":"not-found","message":"no such page; the page is /ui/connectors"})";
    } else {
      r.content_type = found->content_type;
      r.body.assign(found->bytes);
    }
  }
  AddPageHeaders(r);
  return r;
}

}  // namespace esdb
