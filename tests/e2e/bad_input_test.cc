// Bad requests to a real dev node: each gets its 4xx with a JSON {"error","message"} body,
// writes nothing, and leaves the node healthy.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "devnode_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node_http.h"

namespace esdb::e2e {
namespace {

using ::testing::HasSubstr;

constexpr char kEventsJson[] = "application/vnd.eventstore.events+json";

struct BadRequest {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
  Headers headers;
  int status;
  std::string message_has;  // "" when the wording is not ours to check
};

class BadInputTest : public DevnodeTest {
 protected:
  void Check(const BadRequest& c) {
    SCOPED_TRACE(c.name);
    Reply r = http().Call(c.method, c.target, c.body, c.content_type, c.headers);
    EXPECT_EQ(r.status, c.status) << r.body.substr(0, 500);
    EXPECT_TRUE(r.IsErrorBody()) << r.body.substr(0, 500);
    EXPECT_THAT(r.content_type, HasSubstr("application/json"));
    if (!c.message_has.empty() && r.IsErrorBody()) {
      EXPECT_THAT(r.json["message"].get<std::string>(), HasSubstr(c.message_has));
    }
    ExpectHealthy();
  }

  void ExpectHealthy() {
    Reply live = http().Get("/health/live");
    EXPECT_EQ(live.status, 204) << live.body;
  }

  // What the connector routes may have written: the list, the connector and the index stream.
  void ExpectNoConnector(const std::string& id) {
    Reply list = http().Get("/connectors");
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.json["total"], 0) << list.body;
    EXPECT_EQ(http().Connector(id).status, 404);
    Reply index = http().Get("/streams/$connectors?count=100");
    if (index.status == 200) {
      EXPECT_THAT(index.body, ::testing::Not(HasSubstr("\"" + id + "\""))) << index.body;
    } else {
      EXPECT_EQ(index.status, 404) << index.body;
    }
  }

  void ExpectNoStream(const std::string& stream) {
    Reply r = http().Get("/streams/" + stream);
    EXPECT_EQ(r.status, 404) << stream << ": " << r.body.substr(0, 500);
  }
};

TEST_F(BadInputTest, ManagementRequests) {
  const std::string ten_mib(10 << 20, 'x');
  const std::vector<BadRequest> cases = {
      {"malformed JSON",
       "POST",
       "/connectors/x",
       "{\"settings\": {oops",
       "application/json",
       {},
       400,
       "JSON"},
      {"unknown sink",
       "POST",
       "/connectors/x",
       R"({"settings":{"instanceTypeName":"teleport-sink"}})",
       "application/json",
       {},
       400,
       "instanceTypeName"},
      {"invalid regex",
       "POST",
       "/connectors/x",
       R"({"settings":{"instanceTypeName":"null-sink","subscription:filter:filterType":"regex",)"
       R"("subscription:filter:expression":"orders-(["}})",
       "application/json",
       {},
       400,
       "subscription:filter:expression"},
      {"unknown route", "GET", "/nothing/here", "", "", {}, 404, ""},
      {"unknown connector action", "POST", "/connectors/x/explode", "", "", {}, 404, ""},
      {"wrong method on a connector",
       "PATCH",
       "/connectors/x",
       "{}",
       "application/json",
       {},
       405,
       ""},
      {"wrong method on the list", "DELETE", "/connectors", "", "", {}, 405, ""},
      {"10 MiB body",
       "POST",
       "/connectors/x",
       absl::StrCat(R"({"settings":{"instanceTypeName":"null-sink","x":")", ten_mib, "\"}}"),
       "application/json",
       {},
       413,
       ""},
  };
  for (const BadRequest& c : cases) {
    Check(c);
    ExpectNoConnector("x");
  }
  // The node still does real work afterwards.
  Reply ok = http().Post("/connectors/x", R"({"settings":{"instanceTypeName":"null-sink"}})");
  EXPECT_EQ(ok.status, 201) << ok.body;
}

TEST_F(BadInputTest, StreamAppends) {
  const std::string ten_mib_body =
      absl::StrCat(R"([{"eventType":"Big","data":{"x":")", std::string(10 << 20, 'x'), "\"}}]");
  const std::string one_event = EventsBody(MakeEvents(3, 0, 1));
  const std::vector<BadRequest> cases = {
      {"missing content type", "POST", "/streams/s-1", one_event, "", {}, 415, "Content-Type"},
      {"malformed JSON", "POST", "/streams/s-1", "[{\"eventType\":", kEventsJson, {}, 400, "JSON"},
      {"not an array", "POST", "/streams/s-1", R"({"eventType":"A"})", kEventsJson, {}, 400, ""},
      {"event without a type",
       "POST",
       "/streams/s-1",
       R"([{"data":{}}])",
       kEventsJson,
       {},
       400,
       "eventType"},
      {"event id that is not a UUID",
       "POST",
       "/streams/s-1",
       R"([{"eventId":"not-a-uuid","eventType":"A","data":{}}])",
       kEventsJson,
       {},
       400,
       ""},
      {"expected version 5 on a new stream",
       "POST",
       "/streams/s-1",
       one_event,
       kEventsJson,
       {{"ES-ExpectedVersion", "5"}},
       400,
       "expected"},
      {"expected version 'abc'",
       "POST",
       "/streams/s-1",
       one_event,
       kEventsJson,
       {{"ES-ExpectedVersion", "abc"}},
       400,
       "ES-ExpectedVersion"},
      {"wrong method", "PUT", "/streams/s-1", one_event, kEventsJson, {}, 405, ""},
      {"10 MiB body", "POST", "/streams/s-1", ten_mib_body, kEventsJson, {}, 413, ""},
  };
  for (const BadRequest& c : cases) {
    Check(c);
    ExpectNoStream("s-1");
  }
  Reply wrong_version =
      http().Call("POST", "/streams/s-1", one_event, kEventsJson, {{"ES-ExpectedVersion", "5"}});
  EXPECT_EQ(wrong_version.json.value("error", ""), "wrong-expected-version") << wrong_version.body;

  // A good append still works, and a wrong expectation on the existing stream changes nothing.
  Reply ok = AppendEvents(http(), "s-1", MakeEvents(3, 1, 1), "-1");
  ASSERT_EQ(ok.status, 201) << ok.body;
  Check({"expected version 5 on a stream at 0",
         "POST",
         "/streams/s-1",
         one_event,
         kEventsJson,
         {{"ES-ExpectedVersion", "5"}},
         400,
         "expected"});
  Reply read = http().Get("/streams/s-1");
  ASSERT_EQ(read.status, 200) << read.body;
  ASSERT_EQ(read.json["events"].size(), 1u) << read.body;
  EXPECT_EQ(read.json["events"][0]["eventId"], TestEventId(3, 1));
}

}  // namespace
}  // namespace esdb::e2e
