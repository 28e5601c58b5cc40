#include "core/uuid.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace esdb {
namespace {

TEST(UuidTextTest, ParsesBothCasesIntoBigEndianHalvesAndPrintsLowerCase) {
  std::optional<UuidBits> bits = ParseUuid("0F8FAD5B-d9cb-469f-A165-70867728950e");
  ASSERT_TRUE(bits.has_value());
  EXPECT_EQ(bits->high, 0x0f8fad5bd9cb469fULL);
  EXPECT_EQ(bits->low, 0xa16570867728950eULL);
  EXPECT_EQ(UuidText(*bits), "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(*CanonicalUuid("ABCDEF01-2345-6789-abcd-ef0123456789"),
            "abcdef01-2345-6789-abcd-ef0123456789");
}

TEST(UuidTextTest, RejectsOtherForms) {
  for (const char* bad :
       {"", "abcdef01234567890abcdef0123456789", "{abcdef01-2345-6789-abcd-ef0123456789}",
        "abcdef01-2345-6789-abcd-ef012345678g", "abcdef01-2345-6789-abcd_ef0123456789",
        "abcdef01-2345-6789-abcd-ef01234567890", "abcdef01-2345-6789-abcd-ef012345678-"}) {
    EXPECT_FALSE(ParseUuid(bad).has_value()) << bad;
    absl::StatusOr<std::string> canonical = CanonicalUuid(bad);
    EXPECT_EQ(canonical.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(CanonicalUuid("a\nb").status().message(),
            "'a\\nb' is not a UUID (8-4-4-4-12 hex digits)");
}

TEST(UuidTextTest, NewUuidsAreCanonicalVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUuid();
    absl::StatusOr<std::string> canonical = CanonicalUuid(id);
    ASSERT_TRUE(canonical.ok()) << id;
    EXPECT_EQ(*canonical, id);
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

}  // namespace
}  // namespace esdb
