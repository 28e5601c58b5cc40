// The host's side of the library ABI handshake (esdb/abi.h): a library of the same or a newer
// version is taken, an older one is refused with both versions named.
#include "hosting/connectors_library.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb::hosting {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string FakeLibrary(const std::string& name) {
  return std::string(ESDB_TESTDATA_LIB_DIR) + "/libesdb_fake_connectors_" + name + ".so";
}

TEST(ConnectorsLibraryTest, ANewerLibraryIsTakenAndServes) {
  esdb_node_api node{};
  auto lib = ConnectorsLibrary::Load(FakeLibrary("newer"), &node, "{}");
  ASSERT_TRUE(lib.ok()) << lib.status();
  http::Request request;
  request.method = "GET";
  request.path = "/connector-plugins";
  http::Response response = (*lib)->Handle(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "fake library " + std::to_string(ESDB_CONNECTORS_ABI_VERSION + 1) +
                               ": GET /connector-plugins");
}

TEST(ConnectorsLibraryTest, AnOlderLibraryIsRefusedNamingBothVersions) {
  esdb_node_api node{};
  auto lib = ConnectorsLibrary::Load(FakeLibrary("older"), &node, "{}");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(lib.status().message(),
              AllOf(HasSubstr("has library ABI 0"),
                    HasSubstr("needs " + std::to_string(kNeededLibraryAbi) + " or newer")));
}

TEST(ConnectorsLibraryTest, TheRealLibraryPassesTheHandshake) {
  // Starting needs a working node; a handshake failure would come before the start's error.
  esdb_node_api node{};
  auto lib =
      ConnectorsLibrary::Load(std::string(ESDB_LIB_DIR) + "/libesdb_connectors.so", &node, "{}");
  ASSERT_FALSE(lib.ok());
  EXPECT_THAT(lib.status().message(), HasSubstr("did not start"));
  EXPECT_THAT(lib.status().message(), HasSubstr("node API table is 0 bytes"));
}

}  // namespace
}  // namespace esdb::hosting
