#include "http/error_body.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace esdb::http {
namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if there is none.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto lead = static_cast<uint8_t>(text[i]);
  size_t length;
  uint32_t min_code_point;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, min_code_point = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, min_code_point = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  uint32_t code_point = lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<uint8_t>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3F);
  }
  const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  if (code_point < min_code_point || code_point > 0x10FFFF || surrogate) return 0;
  return length;
}

void AppendJsonString(std::string& out, absl::string_view text) {
  out.push_back('"');
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace

std::string ErrorJson(absl::string_view code, absl::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, code);
  out += ",\"message\":";
  AppendJsonString(out, message);
  out.push_back('}');
  return out;
}

Response ErrorResponse(int status, absl::string_view code, absl::string_view message) {
  Response response;
  response.status = status;
  response.body = ErrorJson(code, message);
  return response;
}

Response AccessErrorResponse(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnauthenticated: {
      Response r = ErrorResponse(401, "unauthorized", status.message());
      r.headers.emplace_back("WWW-Authenticate", absl::StrCat("Basic realm=\"", kAuthRealm, "\""));
      return r;
    }
    case absl::StatusCode::kPermissionDenied:
      return ErrorResponse(403, "forbidden", status.message());
    case absl::StatusCode::kUnavailable:
      return ErrorResponse(503, "unavailable", status.message());
    default:
      return ErrorResponse(500, "internal", status.message());
  }
}

}  // namespace esdb::http
