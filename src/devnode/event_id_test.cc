#include "devnode/event_id.h"

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

TEST(EventIdTest, AcceptsCanonicalUuidsAndLowerCasesThem) {
  auto id = CanonicalEventId("ABCDEF01-2345-6789-abcd-ef0123456789");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "abcdef01-2345-6789-abcd-ef0123456789");
}

TEST(EventIdTest, RejectsOtherForms) {
  for (const char* bad :
       {"", "abcdef01234567890abcdef0123456789", "{abcdef01-2345-6789-abcd-ef0123456789}",
        "abcdef01-2345-6789-abcd-ef012345678g", "abcdef01-2345-6789-abcd_ef0123456789",
        "abcdef01-2345-6789-abcd-ef01234567890"}) {
    EXPECT_EQ(CanonicalEventId(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(EventIdTest, NewIdsAreCanonicalVersion4AndDistinct) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewEventId();
    auto canonical = CanonicalEventId(id);
    ASSERT_TRUE(canonical.ok()) << id;
    EXPECT_EQ(*canonical, id);
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

}  // namespace
}  // namespace esdb::devnode
