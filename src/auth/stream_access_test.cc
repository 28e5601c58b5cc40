#include "auth/stream_access.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::auth {
namespace {

using Kind = http::Principal::Kind;
using ::testing::HasSubstr;

const http::Principal kAnonymous{Kind::kAnonymous};
const http::Principal kInsecure{Kind::kInsecure};
const http::Principal kAdmin{Kind::kUser, "admin", {"$admins"}};
const http::Principal kOps{Kind::kUser, "ops", {"$ops"}};
const http::Principal kReader{Kind::kUser, "reader", {}};

TEST(StreamAccessTest, LibraryStreamsAndAllAreForAdminsOnly) {
  for (const char* stream :
       {"$all", "$connectors", "$connectors/orders", "$connectors/orders/checkpoints",
        "$connectors-hosts", "$$$connectors/orders", "$$$connectors-hosts"}) {
    EXPECT_TRUE(IsAdminOnlyStream(stream)) << stream;
    for (StreamOperation op : {StreamOperation::kRead, StreamOperation::kWrite}) {
      EXPECT_TRUE(AuthorizeStream(kAdmin, op, stream).ok()) << stream;
      EXPECT_TRUE(AuthorizeStream(kInsecure, op, stream).ok()) << stream;
      EXPECT_TRUE(absl::IsPermissionDenied(AuthorizeStream(kOps, op, stream))) << stream;
      EXPECT_TRUE(absl::IsPermissionDenied(AuthorizeStream(kReader, op, stream))) << stream;
      EXPECT_TRUE(absl::IsUnauthenticated(AuthorizeStream(kAnonymous, op, stream))) << stream;
    }
  }
}

TEST(StreamAccessTest, OtherStreamsAreForAnyAuthenticatedUser) {
  for (const char* stream : {"orders", "$connectorsX", "$connectors-other", "$$orders", "$$",
                             "$ce-orders", "connectors/x"}) {
    EXPECT_FALSE(IsAdminOnlyStream(stream)) << stream;
    EXPECT_TRUE(AuthorizeStream(kReader, StreamOperation::kWrite, stream).ok()) << stream;
    EXPECT_TRUE(
        absl::IsUnauthenticated(AuthorizeStream(kAnonymous, StreamOperation::kRead, stream)))
        << stream;
  }
}

TEST(StreamAccessTest, DenialNamesUserStreamAndGroup) {
  absl::Status s = AuthorizeStream(kReader, StreamOperation::kRead, "$connectors/x");
  EXPECT_THAT(s.message(), HasSubstr("'reader'"));
  EXPECT_THAT(s.message(), HasSubstr("read '$connectors/x'"));
  EXPECT_THAT(s.message(), HasSubstr("$admins"));
}

TEST(StreamAccessTest, RolesCountOnlyForUsers) {
  EXPECT_TRUE(HasRole(kAdmin, "$admins"));
  EXPECT_FALSE(HasRole(kOps, "$admins"));
  EXPECT_FALSE(HasRole(http::Principal{Kind::kAnonymous, "x", {"$admins"}}, "$admins"));
  EXPECT_TRUE(RequireAuthenticated(kReader).ok());
  EXPECT_TRUE(RequireAuthenticated(kInsecure).ok());
  EXPECT_TRUE(absl::IsUnauthenticated(RequireAuthenticated(kAnonymous)));
}

}  // namespace
}  // namespace esdb::auth
