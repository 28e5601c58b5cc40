#include "http/error_body.h"

#include "gtest/gtest.h"

namespace esdb::http {
namespace {

TEST(ErrorJsonTest, EscapesQuotesControlsAndBadUtf8) {
  EXPECT_EQ(ErrorJson("internal", "say \"hi\"\\\n\x01"),
            R"({"error":"internal","message":"say \"hi\"\\\n\u0001"})");
  // Valid UTF-8 passes through; a stray continuation byte and a truncated sequence do not.
  EXPECT_EQ(ErrorJson("x", "\xC3\xA9|\x80|\xE2\x82"),
            "{\"error\":\"x\",\"message\":\"\xC3\xA9|\\ufffd|\\ufffd\\ufffd\"}");
  // Overlong encoding and UTF-16 surrogates are not valid UTF-8 either.
  EXPECT_EQ(ErrorJson("x", "\xC0\xAF\xED\xA0\x80"),
            R"({"error":"x","message":"\ufffd\ufffd\ufffd\ufffd\ufffd"})");
}

TEST(ErrorResponseTest, IsJsonWithStatus) {
  Response response = ErrorResponse(413, "payload-too-large", "too big");
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"error":"payload-too-large","message":"too big"})");
}

}  // namespace
}  // namespace esdb::http
