#include "devnode/event_id.h"

#include "gtest/gtest.h"

namespace esdb::devnode {
namespace {

TEST(EventIdTest, AcceptsCanonicalUuidsAndLowerCasesThem) {
  auto id = CanonicalEventId("ABCDEF01-2345-6789-abcd-ef0123456789");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "abcdef01-2345-6789-abcd-ef0123456789");
}

// The UUID rules themselves are core/uuid's (tested there); here, the log node's wording.
TEST(EventIdTest, ErrorsNameTheEventIdAndNewIdsAreCanonical) {
  EXPECT_EQ(CanonicalEventId("nope").status().message(),
            "event id 'nope' is not a UUID (8-4-4-4-12 hex digits)");
  const std::string id = NewEventId();
  EXPECT_EQ(*CanonicalEventId(id), id);
}

}  // namespace
}  // namespace esdb::devnode
