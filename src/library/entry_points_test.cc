// The library as a host sees it: dlopen'ed, driven only through esdb/connectors.h.
#include <dlfcn.h>

#include <cstddef>
#include <string>
#include <vector>

#include "devnode/log_node.h"
#include "esdb/connectors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

struct Entry {
  void* handle = nullptr;
  decltype(&esdb_connectors_abi_version) abi_version;
  decltype(&esdb_connectors_start) start;
  decltype(&esdb_connectors_handle_http) handle_http;
  decltype(&esdb_connectors_free_response) free_response;
  decltype(&esdb_connectors_metrics) metrics;
  decltype(&esdb_connectors_free_string) free_string;
  decltype(&esdb_connectors_stop) stop;
};

class EntryPointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    e_.handle = dlopen(ESDB_LIB_DIR "/libesdb_connectors.so", RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(e_.handle, nullptr) << dlerror();
    auto sym = [&](const char* n) {
      void* p = dlsym(e_.handle, n);
      EXPECT_NE(p, nullptr) << n;
      return p;
    };
    e_.abi_version = reinterpret_cast<decltype(e_.abi_version)>(sym("esdb_connectors_abi_version"));
    e_.start = reinterpret_cast<decltype(e_.start)>(sym("esdb_connectors_start"));
    e_.handle_http = reinterpret_cast<decltype(e_.handle_http)>(sym("esdb_connectors_handle_http"));
    e_.free_response = reinterpret_cast<decltype(e_.free_response)>(sym("esdb_connectors_free_response"));
    e_.metrics = reinterpret_cast<decltype(e_.metrics)>(sym("esdb_connectors_metrics"));
    e_.free_string = reinterpret_cast<decltype(e_.free_string)>(sym("esdb_connectors_free_string"));
    e_.stop = reinterpret_cast<decltype(e_.stop)>(sym("esdb_connectors_stop"));
  }
  void TearDown() override {
    if (e_.handle) dlclose(e_.handle);
  }

  const char* user_ = "ops";
  std::vector<const char*> roles_ = {"$ops"};

  // As user `user_` with `roles_`, from a host whose request struct is `struct_size` long.
  std::pair<int, std::string> Http(esdb_connectors* lib, const char* method, const char* path,
                                   const std::string& body = "", std::string* allow = nullptr,
                                   uint32_t struct_size = sizeof(esdb_http_request)) {
    esdb_http_header ct{"Content-Type", "application/json"};
    const esdb_http_header* headers[] = {&ct};
    esdb_http_request req{sizeof(esdb_http_request), method, path, "", headers, 1,
                          body.data(), body.size()};
    req.struct_size = struct_size;
    req.auth = ESDB_AUTH_USER;
    req.user = user_;
    req.roles = roles_.data();
    req.role_count = roles_.size();
    esdb_http_response resp{};
    resp.struct_size = sizeof resp;
    e_.handle_http(lib, &req, &resp);
    std::pair<int, std::string> out{resp.status, std::string(resp.body, resp.body_size)};
    for (size_t i = 0; allow != nullptr && i < resp.header_count; ++i) {
      if (std::string(resp.headers[i]->name) == "Allow") *allow = resp.headers[i]->value;
    }
    e_.free_response(&resp);
    return out;
  }

  Entry e_;
  std::unique_ptr<esdb::devnode::LogNode> node_ = esdb::devnode::LogNode::InMemory();
};

TEST_F(EntryPointsTest, CallersCrossTheAbiAndOlderHostsAreAnonymous) {
  esdb_connectors* lib = nullptr;
  char err[256] = "";
  std::string config = std::string(R"({"pluginsDir":")") + ESDB_PLUGIN_DIR + "\"}";
  ASSERT_EQ(e_.start(node_->api(), config.c_str(), &lib, err, sizeof err), 0) << err;
  const std::string body = R"({"settings":{"instanceTypeName":"null-sink"}})";
  roles_ = {"readers"};
  EXPECT_EQ(Http(lib, "POST", "/connectors/c1", body).first, 403);
  EXPECT_EQ(Http(lib, "GET", "/connectors").first, 200);
  // A host built before the caller fields existed: its requests carry no caller (fail closed).
  roles_ = {"$admins"};
  EXPECT_EQ(Http(lib, "GET", "/connectors", "", nullptr, offsetof(esdb_http_request, auth)).first,
            401);
  EXPECT_EQ(Http(lib, "POST", "/connectors/c1", body).first, 201);
  e_.stop(lib);
}

TEST_F(EntryPointsTest, StartServeAndStop) {
  EXPECT_EQ(e_.abi_version(), ESDB_CONNECTORS_ABI_VERSION);
  esdb_connectors* lib = nullptr;
  char err[256] = "";
  std::string config = std::string(R"({"pluginsDir":")") + ESDB_PLUGIN_DIR + "\"}";
  ASSERT_EQ(e_.start(node_->api(), config.c_str(), &lib, err, sizeof err), 0) << err;
  auto created = Http(lib, "POST", "/connectors/c1", R"({"settings":{"instanceTypeName":"null-sink"}})");
  EXPECT_EQ(created.first, 201) << created.second;
  auto got = Http(lib, "GET", "/connectors/c1");
  EXPECT_EQ(got.first, 200);
  EXPECT_THAT(got.second, HasSubstr("\"state\":\"STOPPED\""));
  std::string allow;
  EXPECT_EQ(Http(lib, "PATCH", "/connectors/c1", "", &allow).first, 405);
  EXPECT_EQ(allow, "GET, POST, DELETE");  // extra headers cross the ABI
  char* metrics = e_.metrics(lib);
  ASSERT_NE(metrics, nullptr);
  EXPECT_THAT(std::string(metrics), HasSubstr("# TYPE esdb_connector_records_delivered_total"));
  e_.free_string(metrics);
  e_.stop(lib);

  // A second start over the same node sees the connector: state lives in the node only.
  ASSERT_EQ(e_.start(node_->api(), config.c_str(), &lib, err, sizeof err), 0) << err;
  EXPECT_EQ(Http(lib, "GET", "/connectors/c1").first, 200);
  e_.stop(lib);
}

TEST_F(EntryPointsTest, BadStartsAreErrorsNotCrashes) {
  esdb_connectors* lib = nullptr;
  char err[256] = "";
  EXPECT_NE(e_.start(node_->api(), "{not json", &lib, err, sizeof err), 0);
  EXPECT_THAT(err, HasSubstr("JSON object"));
  EXPECT_NE(e_.start(node_->api(), R"({"colour":"red"})", &lib, err, sizeof err), 0);
  EXPECT_THAT(err, HasSubstr("colour"));
  EXPECT_NE(e_.start(nullptr, "{}", &lib, err, sizeof err), 0);
  EXPECT_THAT(err, HasSubstr("node API"));
  EXPECT_NE(e_.start(node_->api(), R"({"pluginsDir":"/no/such/dir"})", &lib, err, sizeof err), 0);
  EXPECT_THAT(err, HasSubstr("/no/such/dir"));
  char tiny[4];
  EXPECT_NE(e_.start(nullptr, "{}", &lib, tiny, sizeof tiny), 0);
  EXPECT_EQ(std::string(tiny).size(), 3u);  // truncated, still terminated
  // Bad requests still get a response.
  esdb_http_response resp{};
  e_.handle_http(nullptr, nullptr, &resp);
  EXPECT_EQ(resp.status, 500);
  e_.free_response(&resp);
}

}  // namespace
