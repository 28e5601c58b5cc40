// FillEventView: a recorded event of the protocol as the node ABI's C view.
#include "sidecar/event_view.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace esdb::sidecar {
namespace {

using RecordedEvent = event_store::client::streams::ReadResp::ReadEvent::RecordedEvent;

RecordedEvent Event(const std::string& stream, const std::string& type) {
  RecordedEvent e;
  e.mutable_stream_identifier()->set_stream_name(stream);
  e.set_stream_revision(7);
  e.set_commit_position(100);
  e.set_prepare_position(99);
  e.mutable_id()->set_string("0b6c8f8e-5a8a-4f6e-9a3b-2a4f1c9d7e10");
  (*e.mutable_metadata())["type"] = type;
  (*e.mutable_metadata())["content-type"] = "application/json";
  (*e.mutable_metadata())["created"] = "17000000000000000";
  e.set_data(R"({"a":1})");
  return e;
}

TEST(EventViewTest, BorrowsTheMessagesFields) {
  RecordedEvent e = Event("orders-1", "Placed");
  EventView v;
  FillEventView(e, &v);
  EXPECT_EQ(v.view.stream, e.stream_identifier().stream_name().c_str()) << "no copy";
  EXPECT_STREQ(v.view.event_type, "Placed");
  EXPECT_STREQ(v.view.content_type, "application/json");
  EXPECT_STREQ(v.view.event_id, "0b6c8f8e-5a8a-4f6e-9a3b-2a4f1c9d7e10");
  EXPECT_EQ(v.view.revision, 7u);
  EXPECT_EQ(v.view.position.commit, 100u);
  EXPECT_EQ(v.view.position.prepare, 99u);
  EXPECT_EQ(v.view.created_unix_us, 1700000000000000);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.view.data), v.view.data_size),
            R"({"a":1})");
}

// A KurrentDB node takes any stream name but the empty one. As C strings, "orders\0x" would be
// the stream "orders" and "Placed\0" the type "Placed": another stream's events, for a filter
// or a sink. The NUL becomes U+FFFD, so the name stays whole and distinct.
TEST(EventViewTest, ANulInANameIsNotWhereTheNameEnds) {
  RecordedEvent e = Event(std::string("orders\0x", 8), std::string("Placed\0", 7));
  (*e.mutable_metadata())["content-type"] = std::string("application/json\0!", 18);
  EventView v;
  FillEventView(e, &v);
  EXPECT_STREQ(v.view.stream, "orders\xEF\xBF\xBDx");
  EXPECT_STREQ(v.view.event_type, "Placed\xEF\xBF\xBD");
  EXPECT_STREQ(v.view.content_type, "application/json\xEF\xBF\xBD!");
}

TEST(EventViewTest, AMalformedIdOrTimeReadsAsEmptyOrZero) {
  RecordedEvent e = Event("s", "T");
  e.mutable_id()->set_string("not a uuid");
  (*e.mutable_metadata())["created"] = "soon";
  EventView v;
  FillEventView(e, &v);
  EXPECT_STREQ(v.view.event_id, "");
  EXPECT_EQ(v.view.created_unix_us, 0);
}

}  // namespace
}  // namespace esdb::sidecar
