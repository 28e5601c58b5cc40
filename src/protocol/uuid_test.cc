#include "protocol/uuid.h"

#include "gtest/gtest.h"

namespace esdb::protocol {
namespace {

constexpr char kId[] = "0f8fad5b-d9cb-469f-a165-70867728950e";

TEST(UuidTest, StructuredHalvesAreTheBigEndianHexDigits) {
  absl::StatusOr<event_store::client::UUID> uuid = UuidFromText(kId, UuidForm::kStructured);
  ASSERT_TRUE(uuid.ok()) << uuid.status();
  EXPECT_EQ(static_cast<uint64_t>(uuid->structured().most_significant_bits()),
            0x0f8fad5bd9cb469fULL);
  // The low half has the top bit set: it travels as a negative int64.
  EXPECT_EQ(static_cast<uint64_t>(uuid->structured().least_significant_bits()),
            0xa16570867728950eULL);
  EXPECT_LT(uuid->structured().least_significant_bits(), 0);
  absl::StatusOr<std::string> back = UuidToText(*uuid);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, kId);
}

TEST(UuidTest, StringFormIsLowerCased) {
  absl::StatusOr<event_store::client::UUID> uuid =
      UuidFromText("0F8FAD5B-D9CB-469F-A165-70867728950E", UuidForm::kString);
  ASSERT_TRUE(uuid.ok());
  EXPECT_EQ(uuid->string(), kId);
  absl::StatusOr<std::string> text = UuidToText(*uuid);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, kId);
}

TEST(UuidTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "not-a-uuid", "0f8fad5b-d9cb-469f-a165-70867728950",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5bxd9cb-469f-a165-70867728950e",
        "0f8fad5b-d9cb-469f-a165-70867728950g"}) {
    EXPECT_EQ(UuidFromText(bad, UuidForm::kString).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
    event_store::client::UUID uuid;
    uuid.set_string(bad);
    EXPECT_FALSE(UuidToText(uuid).ok()) << bad;
  }
  EXPECT_FALSE(UuidToText(event_store::client::UUID()).ok());
}

}  // namespace
}  // namespace esdb::protocol
