#include "sinks/destination_policy.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace esdb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// The real plugins, whose tables mark path (file-sink) and url, bootstrapServers (network).
class DestinationPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plugins = PluginSet::LoadDirectory(ESDB_PLUGIN_DIR, [](const std::string&) {});
    ASSERT_TRUE(plugins.ok()) << plugins.status();
    plugins_ = std::move(*plugins);
    root_ = fs::temp_directory_path() / absl::StrCat("esdb-policy-", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_ / "sub");
    fs::create_directories(root_.string() + "-sibling");
  }
  void TearDown() override {
    fs::remove_all(root_);
    fs::remove_all(root_.string() + "-sibling");
  }

  absl::Status Apply(const DestinationPolicy& policy, const std::string& sink,
                     SettingsMap& settings) {
    return policy.Apply(**plugins_.Find(sink), settings);
  }
  absl::StatusOr<std::string> FilePath(const DestinationPolicy& policy, const std::string& path) {
    SettingsMap s = {{"path", path}};
    if (auto st = Apply(policy, "file-sink", s); !st.ok()) return st;
    return s["path"];
  }
  absl::Status Url(const DestinationPolicy& policy, const std::string& url) {
    SettingsMap s = {{"url", url}};
    return Apply(policy, "http-sink", s);
  }

  PluginSet plugins_;
  fs::path root_;
};

TEST_F(DestinationPolicyTest, FilesMustResolveUnderTheRoot) {
  auto policy = DestinationPolicy::Create({.files_root = root_.string()});
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(*FilePath(*policy, "out.jsonl"), (root_ / "out.jsonl").string());  // relative: in it
  EXPECT_EQ(*FilePath(*policy, (root_ / "sub/../a.jsonl").string()), (root_ / "a.jsonl").string());
  for (const std::string& outside :
       {std::string("/etc/passwd"), std::string("../escape.jsonl"), std::string("sub/../../x"),
        root_.string() + "-sibling/x"}) {
    auto r = FilePath(*policy, outside);
    ASSERT_FALSE(r.ok()) << outside;
    EXPECT_THAT(r.status().message(), HasSubstr("outside the sink file root")) << outside;
  }
  // A symbolic link inside the root that points out of it is followed, and refused.
  fs::create_symlink("/etc", root_ / "etc-link");
  EXPECT_FALSE(FilePath(*policy, "etc-link/passwd").ok());
  fs::create_symlink(root_ / "sub", root_ / "sub-link");
  EXPECT_EQ(*FilePath(*policy, "sub-link/x"), (root_ / "sub/x").string());
  // No root: no files at all.
  auto none = FilePath(DestinationPolicy(), (root_ / "x").string());
  EXPECT_THAT(none.status().message(), HasSubstr("--sink-files-root"));
}

TEST_F(DestinationPolicyTest, TheHostsOwnPortsAreAlwaysRefused) {
  auto policy = DestinationPolicy::Create({.own_endpoints = {"127.0.0.1:2114", "0.0.0.0:2113"}});
  ASSERT_TRUE(policy.ok()) << policy.status();
  for (const char* url : {"http://127.0.0.1:2114/connectors", "http://localhost:2113/",
                          "https://user:pw@[::1]:2114/x", "http://127.9.9.9:2113"}) {
    auto s = Url(*policy, url);
    EXPECT_THAT(s.message(), HasSubstr("this host's own port")) << url;
  }
  EXPECT_TRUE(Url(*policy, "http://127.0.0.1:8080/hooks").ok());
  EXPECT_TRUE(Url(*policy, "https://hooks.example/in").ok());  // no list: anything else goes
  SettingsMap kafka = {{"bootstrapServers", "broker:9092, localhost:2113"}, {"topic", "t"}};
  EXPECT_FALSE(Apply(*policy, "kafka-sink", kafka).ok());
}

TEST_F(DestinationPolicyTest, AllowedHostsByNamePortAndRange) {
  auto policy = DestinationPolicy::Create(
      {.allowed_hosts = {"hooks.example", "kafka:9092", "10.1.0.0/16", "fd00::/8"}});
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(Url(*policy, "https://HOOKS.example/in").ok());
  EXPECT_TRUE(Url(*policy, "http://10.1.200.3:8080/").ok());
  EXPECT_TRUE(Url(*policy, "http://[fd12::1]/").ok());
  for (const char* url : {"https://evil.example/in", "http://10.2.0.1/", "http://kafka:9093/",
                          "https://hooks.example.evil.example/"}) {
    EXPECT_THAT(Url(*policy, url).message(), HasSubstr("--sink-allowed-hosts")) << url;
  }
  SettingsMap kafka = {{"bootstrapServers", "kafka:9092,10.1.0.7:9092"}, {"topic", "t"}};
  EXPECT_TRUE(Apply(*policy, "kafka-sink", kafka).ok());
  EXPECT_FALSE(DestinationPolicy::Create({.allowed_hosts = {"10.0.0.0/33"}}).ok());
  EXPECT_FALSE(DestinationPolicy::Create({.own_endpoints = {"no-port"}}).ok());
}

TEST_F(DestinationPolicyTest, LibpqConnectionStringsAndUrisAreUnderstood) {
  auto pg = [&](const DestinationPolicy& policy, const std::string& value) {
    SettingsMap s = {{"connectionString", value}};
    return Apply(policy, "postgres-sink", s);
  };
  auto own = DestinationPolicy::Create({.own_endpoints = {"127.0.0.1:2113"}});
  ASSERT_TRUE(own.ok()) << own.status();
  for (const char* value :
       {"host=localhost port=2113 dbname=app", "host = 'db' hostaddr=127.0.0.1 port=2113",
        "host=a,localhost port=5432,2113", "postgresql://u:pw@localhost:2113/app",
        "postgresql://db1:5432,[::1]:2113/app", "postgres:///app?host=localhost&port=2113",
        "postgresql://db/app?hostaddr=127.0.0.1&port=2113", "port=2113 dbname=app"}) {
    EXPECT_THAT(pg(*own, value).message(), HasSubstr("this host's own port")) << value;
  }
  EXPECT_TRUE(pg(*own, "host=localhost dbname=app").ok());  // 5432 by default
  EXPECT_TRUE(pg(*own, "postgresql://localhost/app").ok());

  auto allowed = DestinationPolicy::Create({.allowed_hosts = {"db.example:5432", "10.1.0.0/16"}});
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  for (const char* value :
       {"host=db.example dbname=app password='p w\\'x'", "host=DB.example port=5432",
        "postgresql://u:pw@db.example/app?sslmode=require", "host=db.example hostaddr=10.1.2.3",
        "postgresql://db.example,10.1.9.9:5432/app"}) {
    EXPECT_TRUE(pg(*allowed, value).ok()) << value << ": " << pg(*allowed, value);
  }
  for (const char* value :
       {"host=evil.example", "host=db.example port=5433", "host=db.example hostaddr=10.2.0.1",
        "host=db.example,evil.example", "postgresql://evil.example/app",
        "postgresql://db.example/app?host=evil.example", "host=/var/run/postgresql",
        "dbname=app"}) {
    EXPECT_THAT(pg(*allowed, value).message(), HasSubstr("--sink-allowed-hosts")) << value;
  }
  for (const char* value : {"host=db port=x", "host=a,b port=1,2,3", "host='unterminated",
                            "host db=x", "postgresql://db:99999/app"}) {
    EXPECT_THAT(pg(*allowed, value).message(), HasSubstr("cannot tell where")) << value;
  }
  // The connection string is secret: a value the policy cannot read is not quoted back.
  EXPECT_THAT(pg(*allowed, "host=db password=s3cr3t port=x").message(),
              Not(HasSubstr("s3cr3t")));
}

}  // namespace
}  // namespace esdb
