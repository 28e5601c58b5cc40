// The library as a host sees it: dlopen'ed, driven only through esdb/connectors.h.
#include <dlfcn.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
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

// Node tables from hosts built against other releases of esdb/node.h (esdb/abi.h).
class NodeTableTest : public EntryPointsTest {
 protected:
  // Starts the library on `table`; "" on success, else the start's error.
  std::string Start(const esdb_node_api* table, esdb_connectors** lib) {
    char err[512] = "";
    std::string config = std::string(R"({"pluginsDir":")") + ESDB_PLUGIN_DIR + "\"}";
    return e_.start(table, config.c_str(), lib, err, sizeof err) == 0 ? "" : err;
  }

  // Enables a null-sink connector and waits for it to run here.
  void ExpectAConnectorRuns(esdb_connectors* lib) {
    ASSERT_EQ(
        Http(lib, "POST", "/connectors/c1", R"({"settings":{"instanceTypeName":"null-sink"}})")
            .first,
        201);
    ASSERT_EQ(Http(lib, "POST", "/connectors/c1/enable").first, 200);
    std::string last;
    for (int i = 0; i < 300 && last.find(R"("state":"RUNNING")") == std::string::npos; ++i) {
      if (i > 0) usleep(20000);
      last = Http(lib, "GET", "/connectors/c1").second;
    }
    EXPECT_THAT(last, HasSubstr(R"("state":"RUNNING")"));
  }
};

TEST_F(NodeTableTest, AnOldHostWithVersionOneSizeAndNoOptionalFunctionsServes) {
  esdb_node_api old = *node_->api();
  old.struct_size = ESDB_FIELD_END(esdb_node_api, log);  // version 1 ends with log
  old.abi_version = 1;
  old.get_stream_metadata = nullptr;
  old.get_members = nullptr;  // the library takes it for a single node that leads
  old.watch_members = nullptr;
  old.unwatch_members = nullptr;
  old.log = nullptr;
  esdb_connectors* lib = nullptr;
  ASSERT_EQ(Start(&old, &lib), "");
  ExpectAConnectorRuns(lib);
  e_.stop(lib);
}

void MustNotBeCalled(void*) { std::abort(); }

TEST_F(NodeTableTest, ANewerHostsUnknownTrailingFieldsAreIgnored) {
  struct NewerTable {
    esdb_node_api v1;
    void (*added_later)(void* ctx);  // what a later release might append
    uint64_t more;
  } newer{*node_->api(), &MustNotBeCalled, ~uint64_t{0}};
  newer.v1.struct_size = sizeof(NewerTable);
  newer.v1.abi_version = ESDB_NODE_ABI_VERSION + 1;
  esdb_connectors* lib = nullptr;
  ASSERT_EQ(Start(&newer.v1, &lib), "");
  ExpectAConnectorRuns(lib);
  e_.stop(lib);
}

TEST_F(NodeTableTest, TablesShorterThanVersionOneOrOfNoVersionAreRefused) {
  esdb_node_api table = *node_->api();
  table.struct_size = ESDB_FIELD_END(esdb_node_api, log) - 1;
  esdb_connectors* lib = nullptr;
  EXPECT_THAT(Start(&table, &lib), HasSubstr("shorter than the"));
  table.struct_size = sizeof table;
  table.abi_version = 0;
  EXPECT_THAT(Start(&table, &lib), HasSubstr("has version 0; esdb-connectors needs version 1"));
  table.abi_version = 1;
  table.append = nullptr;  // not OPTIONAL
  EXPECT_THAT(Start(&table, &lib), HasSubstr("incomplete"));
}

TEST_F(EntryPointsTest, AnOldHostsShortResponseIsNotWrittenPastItsEnd) {
  esdb_connectors* lib = nullptr;
  char err[256] = "";
  std::string config = std::string(R"({"pluginsDir":")") + ESDB_PLUGIN_DIR + "\"}";
  ASSERT_EQ(e_.start(node_->api(), config.c_str(), &lib, err, sizeof err), 0) << err;
  esdb_http_header ct{"Content-Type", "application/json"};
  const esdb_http_header* headers[] = {&ct};
  esdb_http_request req{
      sizeof(esdb_http_request), "PATCH", "/connectors/c1", "", headers, 1, "", 0};
  req.auth = ESDB_AUTH_INSECURE;
  // A 405 carries an Allow header, which only a response struct with `headers` can take.
  esdb_http_response resp{};
  resp.struct_size = offsetof(esdb_http_response, headers);
  auto* const poison = reinterpret_cast<const esdb_http_header* const*>(uintptr_t{0x1});
  resp.headers = poison;
  resp.header_count = 12345;
  e_.handle_http(lib, &req, &resp);
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(resp.headers, poison);
  EXPECT_EQ(resp.header_count, 12345u);
  e_.free_response(&resp);  // must not free what lies past the host's struct either
  EXPECT_EQ(resp.headers, poison);
  e_.stop(lib);
}

}  // namespace
