// The JSON body of every error the server produces itself (as opposed to a handler's errors).
#ifndef ESDB_HTTP_ERROR_BODY_H_
#define ESDB_HTTP_ERROR_BODY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "http/message.h"

namespace esdb::http {

// {"error":<code>,"message":<message>} with both strings JSON-escaped. Bytes that are not valid
// UTF-8 are replaced so the body always parses.
std::string ErrorJson(absl::string_view code, absl::string_view message);

// A response with `status`, Content-Type application/json and an ErrorJson body.
Response ErrorResponse(int status, absl::string_view code, absl::string_view message);

// The realm hosts and the connectors library name in WWW-Authenticate.
inline constexpr char kAuthRealm[] = "esdb-connectors";

// The answer to a caller who may not have what it asked for, with the same codes the management
// API uses: Unauthenticated is 401 "unauthorized" with WWW-Authenticate: Basic; PermissionDenied
// 403 "forbidden"; Unavailable 503 "unavailable" (the authority that checks credentials cannot
// be reached); anything else 500 "internal".
Response AccessErrorResponse(const absl::Status& status);

}  // namespace esdb::http

#endif  // ESDB_HTTP_ERROR_BODY_H_
