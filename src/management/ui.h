// The management page: a browser view of the management API, served from files embedded in the
// library (see ui_assets.h). It talks only to the documented API, from the same origin.
#ifndef ESDB_MANAGEMENT_UI_H_
#define ESDB_MANAGEMENT_UI_H_

#include <string_view>

#include "management/api.h"

namespace esdb {

// True for paths under /ui/, which ServeUi answers.
bool IsUiPath(std::string_view path);

// Answers a request for one of the page's files. REQUIRES: the caller has passed the same
// checks as a read of connectors (ManagementApi::Handle does them first). 404 for an unknown
// file, 405 for methods other than GET and HEAD. Every answer carries a Content-Security-Policy
// that allows only this origin's script, style and API, and X-Content-Type-Options: nosniff.
ApiResponse ServeUi(const ApiRequest& request);

}  // namespace esdb

#endif  // ESDB_MANAGEMENT_UI_H_
