// The dev node's gRPC conversions (devnode/grpc_convert.h) on any bytes decoded as a
// BatchAppendReq, and the same bytes as an AppendReq: stream names and expected revisions from
// options, proposed messages to events (ToAppendEvent), and events back to what a read sends
// (ToReadEvent), in both UUID forms.
//
// Properties: a proposed message without "type" or "content-type" is FailedPrecondition, a bad
// id InvalidArgument; an accepted one keeps its type, content type, data and metadata and has a
// canonical id; the read form of that event carries the same values, the id in the form asked
// (and back to the same text), and a "created" in .NET ticks.
#include <cstdint>
#include <string>

#include "absl/strings/numbers.h"
#include "devnode/grpc_convert.h"
#include "fuzz/fuzz_check.h"
#include "protocol/uuid.h"

namespace {

using event_store::client::streams::AppendReq;
using event_store::client::streams::BatchAppendReq;
using event_store::client::streams::ReadResp;

void CheckReadForm(const esdb::devnode::RecordedEvent& event, esdb::protocol::UuidForm form) {
  ReadResp::ReadEvent out;
  esdb::devnode::ToReadEvent(event, form, &out);
  const auto& e = out.event();
  FUZZ_CHECK(e.stream_identifier().stream_name() == event.stream);
  FUZZ_CHECK(e.stream_revision() == event.revision && e.commit_position() == event.position &&
             e.prepare_position() == event.position && out.commit_position() == event.position);
  FUZZ_CHECK(e.metadata().at("type") == event.event_type);
  FUZZ_CHECK(e.metadata().at("content-type") == event.content_type);
  int64_t ticks = 0;
  FUZZ_CHECK(absl::SimpleAtoi(e.metadata().at("created"), &ticks) &&
             ticks == event.created_unix_us * 10);
  FUZZ_CHECK(e.data() == event.data && e.custom_metadata() == event.metadata);
  FUZZ_CHECK(
      form == esdb::protocol::UuidForm::kString ? e.id().has_string() : e.id().has_structured(),
      "the id is not in the form asked for");
  absl::StatusOr<std::string> id = esdb::protocol::UuidToText(e.id());
  FUZZ_CHECK(id.ok() && *id == event.event_id, "the id does not read back");
}

void ConvertProposed(const BatchAppendReq::ProposedMessage& m, uint64_t revision, int64_t created) {
  absl::StatusOr<esdb::devnode::AppendEvent> event =
      esdb::devnode::ToAppendEvent(m.id(), m.metadata(), m.custom_metadata(), m.data());
  const bool has_required = m.metadata().contains("type") && !m.metadata().at("type").empty() &&
                            m.metadata().contains("content-type") &&
                            !m.metadata().at("content-type").empty();
  if (!event.ok()) {
    FUZZ_CHECK(has_required ? event.status().code() == absl::StatusCode::kInvalidArgument
                            : event.status().code() == absl::StatusCode::kFailedPrecondition,
               "%s", std::string(event.status().message()).c_str());
    return;
  }
  FUZZ_CHECK(has_required);
  FUZZ_CHECK(event->event_type == m.metadata().at("type") &&
             event->content_type == m.metadata().at("content-type") && event->data == m.data() &&
             event->metadata == m.custom_metadata());
  FUZZ_CHECK(esdb::protocol::UuidFromText(event->event_id, esdb::protocol::UuidForm::kString).ok(),
             "the event id '%s' is not a UUID", event->event_id.c_str());
  FUZZ_CHECK(esdb::devnode::ProposedSize(m.metadata(), m.custom_metadata(), m.data()) >=
             m.data().size() + m.custom_metadata().size());

  esdb::devnode::RecordedEvent recorded;
  recorded.stream = "fuzzed";
  recorded.revision = revision;
  recorded.position = revision + 1;
  recorded.event_id = event->event_id;
  recorded.event_type = event->event_type;
  recorded.content_type = event->content_type;
  recorded.data = event->data;
  recorded.metadata = event->metadata;
  recorded.created_unix_us = created;
  CheckReadForm(recorded, esdb::protocol::UuidForm::kString);
  CheckReadForm(recorded, esdb::protocol::UuidForm::kStructured);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  BatchAppendReq batch;
  if (batch.ParseFromArray(data, static_cast<int>(size))) {
    const BatchAppendReq::Options& o = batch.options();
    absl::StatusOr<std::string> stream =
        esdb::devnode::StreamName(o.has_stream_identifier(), o.stream_identifier());
    FUZZ_CHECK(!stream.ok() || !stream->empty());
    absl::StatusOr<int64_t> expected = esdb::devnode::BatchExpectedRevision(o);
    FUZZ_CHECK(!expected.ok() || *expected >= 0 || *expected == ESDB_EXPECT_ANY ||
               *expected == ESDB_EXPECT_NO_STREAM || *expected == ESDB_EXPECT_STREAM_EXISTS);
    // The node's clock writes "created"; keep it where .NET ticks fit an int64, as a clock can.
    const int64_t created = static_cast<int64_t>(o.stream_position() % (uint64_t{INT64_MAX} / 10)) -
                            static_cast<int64_t>(uint64_t{INT64_MAX} / 20);
    uint64_t revision = o.stream_position();
    for (const BatchAppendReq::ProposedMessage& m : batch.proposed_messages()) {
      ConvertProposed(m, revision++ % (uint64_t{1} << 62), created);
    }
  }
  AppendReq append;
  if (append.ParseFromArray(data, static_cast<int>(size)) && append.has_options()) {
    const AppendReq::Options& o = append.options();
    absl::StatusOr<int64_t> expected = esdb::devnode::ExpectedRevision(o);
    FUZZ_CHECK(!expected.ok() || *expected >= 0 || *expected == ESDB_EXPECT_ANY ||
               *expected == ESDB_EXPECT_NO_STREAM || *expected == ESDB_EXPECT_STREAM_EXISTS);
    if (o.expected_stream_revision_case() == AppendReq::Options::kRevision) {
      FUZZ_CHECK(expected.ok() == (o.revision() <= uint64_t{INT64_MAX}));
    }
  }
  return 0;
}
