// The management page's routes, through a whole library instance as a host would call it: who
// may read the page, what it is sent with, and that the embedded bytes are the source files.
#include "management/ui.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "devnode/log_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "library/library.h"
#include "management/ui_assets.h"
#include "secrets/key_ring.h"

namespace esdb {
namespace {

using ::testing::HasSubstr;

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::filesystem::path(ESDB_UI_DIR) / name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of the first header named `name`, "" when absent.
std::string HeaderOf(const ApiResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class UiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("esdb-ui-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const std::string key_file = (dir_ / "secrets.key").string();
    ASSERT_TRUE(secrets::CreateMasterKeyFileIfMissing(key_file).ok());
    LibraryConfig config;
    config.plugins_dir = ESDB_PLUGIN_DIR;
    config.secrets_key_file = key_file;
    config.destinations.files_root = dir_.string();
    auto lib = Library::Start(node_->api(), config);
    ASSERT_TRUE(lib.ok()) << lib.status();
    lib_ = std::move(*lib);
  }
  void TearDown() override {
    lib_.reset();
    std::filesystem::remove_all(dir_);
  }

  ApiResponse Get(const std::string& path, std::string method = "GET") {
    ApiRequest r;
    r.caller = caller_;
    r.method = std::move(method);
    r.path = path;
    r.host = "127.0.0.1:2113";
    return lib_->api().Handle(r);
  }

  Caller caller_{Caller::Kind::kUser, "reader", {}};  // may read, not change
  std::filesystem::path dir_;
  std::unique_ptr<devnode::LogNode> node_ = devnode::LogNode::InMemory();
  std::unique_ptr<Library> lib_;
};

TEST_F(UiTest, ServesThePageItsScriptAndItsStyleToAnyAuthenticatedUser) {
  struct Case {
    std::string path, file, type;
  };
  for (const Case& c :
       {Case{"/ui/connectors", "connectors.html", "text/html; charset=utf-8"},
        Case{"/ui/connectors.js", "connectors.js", "text/javascript; charset=utf-8"},
        Case{"/ui/connectors.css", "connectors.css", "text/css; charset=utf-8"}}) {
    SCOPED_TRACE(c.path);
    ApiResponse r = Get(c.path);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, c.type);
    const std::string source = ReadSource(c.file);
    ASSERT_FALSE(source.empty()) << "cannot read " << c.file << " under " << ESDB_UI_DIR;
    EXPECT_EQ(r.body, source) << "the embedded file differs from the source file";
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
  }
}

TEST_F(UiTest, ThePolicyAllowsOnlyThisOriginAndNoInlineScript) {
  ApiResponse r = Get("/ui/connectors");
  const std::string csp = HeaderOf(r, "Content-Security-Policy");
  EXPECT_THAT(csp, HasSubstr("default-src 'none'"));
  EXPECT_THAT(csp, HasSubstr("script-src 'self';"));
  EXPECT_THAT(csp, HasSubstr("connect-src 'self'"));
  EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'"));
  EXPECT_FALSE(absl::StrContains(csp, "unsafe-inline"));
  EXPECT_FALSE(absl::StrContains(csp, "unsafe-eval"));
  // The page itself has no inline script or handler the policy would block.
  EXPECT_THAT(r.body, HasSubstr(R"(<script src="/ui/connectors.js")"));
  EXPECT_FALSE(absl::StrContains(r.body, "<script>"));
  EXPECT_FALSE(absl::StrContains(r.body, " onclick="));
}

TEST_F(UiTest, EveryEmbeddedFileIsNonEmpty) {
  ASSERT_EQ(kUiAssetCount, 3u);
  for (size_t i = 0; i < kUiAssetCount; ++i) {
    EXPECT_GT(kUiAssets[i].bytes.size(), 100u) << kUiAssets[i].route;
  }
}

TEST_F(UiTest, AnonymousCallersAreAskedForCredentials) {
  caller_ = Caller{};
  ApiResponse r = Get("/ui/connectors");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), R"(Basic realm="esdb-connectors")");
  EXPECT_FALSE(absl::StrContains(r.body, "<html"));
}

TEST_F(UiTest, InsecureHostsServeThePageToEveryone) {
  caller_ = Caller{Caller::Kind::kInsecure, "", {}};
  EXPECT_EQ(Get("/ui/connectors").status, 200);
}

TEST_F(UiTest, HeadIsAllowedOtherMethodsAndUnknownFilesAreNot) {
  EXPECT_EQ(Get("/ui/connectors", "HEAD").status, 200);
  ApiResponse missing = Get("/ui/other");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.content_type, "application/json");
  EXPECT_EQ(HeaderOf(missing, "X-Content-Type-Options"), "nosniff");
  caller_ = Caller{Caller::Kind::kUser, "ops", {"$ops"}};
  ApiResponse post = Get("/ui/connectors", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(HeaderOf(post, "Allow"), "GET");
}

TEST_F(UiTest, UiPathsAreThoseUnderUi) {
  EXPECT_TRUE(IsUiPath("/ui/connectors"));
  EXPECT_TRUE(IsUiPath("/ui/connectors.js"));
  EXPECT_FALSE(IsUiPath("/uix"));
  EXPECT_FALSE(IsUiPath("/connectors"));
}

}  // namespace
}  // namespace esdb
