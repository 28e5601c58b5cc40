#include "core/abi_support.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"

namespace esdb {
namespace {

TEST(WriteErrorTest, TruncatesAndTerminates) {
  char buf[4] = {'x', 'x', 'x', 'x'};
  WriteError(buf, sizeof(buf), "abcdef");
  EXPECT_STREQ(buf, "abc");
  WriteError(nullptr, 0, "ignored");
  WriteError(buf, 0, "ignored");
  EXPECT_STREQ(buf, "abc");
  WriteError(buf, sizeof(buf), "");
  EXPECT_STREQ(buf, "");
}

// A struct as two releases of one ABI see it: version 2 appended `added`.
struct V1 {
  uint32_t struct_size;
  int32_t a;
  const char* b;
};
struct V2 {
  uint32_t struct_size;
  int32_t a;
  const char* b;
  uint64_t added;
};

TEST(AbiFieldTest, HasFieldFollowsTheWritersSize) {
  V2 full{sizeof(V2), 1, "b", 7};
  EXPECT_TRUE(ESDB_HAS_FIELD(V2, &full, added));
  V2 old = full;
  old.struct_size = sizeof(V1);
  EXPECT_TRUE(ESDB_HAS_FIELD(V2, &old, b));
  EXPECT_FALSE(ESDB_HAS_FIELD(V2, &old, added));
  old.struct_size = offsetof(V2, b);  // b only partly there is not there
  EXPECT_FALSE(ESDB_HAS_FIELD(V2, &old, b));
  EXPECT_EQ(ESDB_FIELD_END(V2, b), sizeof(V1));
}

TEST(AbiFieldTest, FunctionsNeedTheFieldAndAPointer) {
  struct Table {
    uint32_t struct_size;
    void (*f)(void);
    void (*g)(void);
  };
  Table t{sizeof(Table), +[] {}, nullptr};
  EXPECT_TRUE(ESDB_HAS_FUNCTION(Table, &t, f));
  EXPECT_FALSE(ESDB_HAS_FUNCTION(Table, &t, g));
  t.g = +[] {};
  t.struct_size = ESDB_FIELD_END(Table, f);
  EXPECT_FALSE(ESDB_HAS_FUNCTION(Table, &t, g));  // set, but beyond the writer's struct
}

TEST(AbiVersionTest, AnyNewerVersionSatisfiesAnOlderNeed) {
  EXPECT_TRUE(ESDB_ABI_SATISFIES(1, 1));
  EXPECT_TRUE(ESDB_ABI_SATISFIES(7, 1));
  EXPECT_FALSE(ESDB_ABI_SATISFIES(1, 2));
  EXPECT_FALSE(ESDB_ABI_SATISFIES(0, 0));  // 0 is never a version
}

TEST(CopyAbiStructTest, OlderWriterLeavesNewFieldsZeroAndNewerWriterIsCut) {
  // An older writer: its struct ends before `added`; what follows in memory is not its own.
  struct {
    V1 v1;
    uint64_t beyond;
  } older{{sizeof(V1), 5, "x"}, 0xdeadbeef};
  V2 copy = CopyAbiStruct(*reinterpret_cast<const V2*>(&older));
  EXPECT_EQ(copy.struct_size, sizeof(V2));
  EXPECT_EQ(copy.a, 5);
  EXPECT_STREQ(copy.b, "x");
  EXPECT_EQ(copy.added, 0u);

  // A newer writer: fields this side does not know are dropped.
  struct {
    V1 v1;
    uint64_t unknown;
  } newer{{sizeof(newer), 6, "y"}, 42};
  V1 cut = CopyAbiStruct(newer.v1);
  EXPECT_EQ(cut.struct_size, sizeof(V1));
  EXPECT_EQ(cut.a, 6);
}

}  // namespace
}  // namespace esdb
