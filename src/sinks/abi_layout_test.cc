// Pins the layout of every C ABI struct (include/esdb/*.h) as compiled on LP64 Linux (x86_64;
// aarch64, riscv64, ppc64le and s390x lay them out the same, as clang --target shows).
// A change here breaks every plugin and host built before it: if one of these fails, the change
// is an ABI break, not a test to update.
#include <cstddef>

#include "esdb/connectors.h"
#include "esdb/node.h"
#include "esdb/sink.h"
#include "gtest/gtest.h"

#define ESDB_ASSERT_FIELD(type, field, offset) \
  static_assert(offsetof(type, field) == (offset), #type "." #field " moved")
#define ESDB_ASSERT_SIZE(type, size) static_assert(sizeof(type) == (size), #type " changed size")

#if defined(__LP64__)

// esdb/sink.h
ESDB_ASSERT_SIZE(esdb_sink_setting, 64);
ESDB_ASSERT_FIELD(esdb_sink_setting, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_sink_setting, name, 8);
ESDB_ASSERT_FIELD(esdb_sink_setting, type, 16);
ESDB_ASSERT_FIELD(esdb_sink_setting, default_value, 24);
ESDB_ASSERT_FIELD(esdb_sink_setting, required, 32);
ESDB_ASSERT_FIELD(esdb_sink_setting, secret, 36);
ESDB_ASSERT_FIELD(esdb_sink_setting, description, 40);
ESDB_ASSERT_FIELD(esdb_sink_setting, enum_values, 48);
ESDB_ASSERT_FIELD(esdb_sink_setting, target, 56);

ESDB_ASSERT_SIZE(esdb_sink_kv, 16);
ESDB_ASSERT_FIELD(esdb_sink_kv, key, 0);
ESDB_ASSERT_FIELD(esdb_sink_kv, value, 8);

ESDB_ASSERT_SIZE(esdb_sink_record, 104);
ESDB_ASSERT_FIELD(esdb_sink_record, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_sink_record, stream, 8);
ESDB_ASSERT_FIELD(esdb_sink_record, revision, 16);
ESDB_ASSERT_FIELD(esdb_sink_record, commit_position, 24);
ESDB_ASSERT_FIELD(esdb_sink_record, prepare_position, 32);
ESDB_ASSERT_FIELD(esdb_sink_record, event_id, 40);
ESDB_ASSERT_FIELD(esdb_sink_record, event_type, 48);
ESDB_ASSERT_FIELD(esdb_sink_record, content_type, 56);
ESDB_ASSERT_FIELD(esdb_sink_record, data, 64);
ESDB_ASSERT_FIELD(esdb_sink_record, data_size, 72);
ESDB_ASSERT_FIELD(esdb_sink_record, metadata, 80);
ESDB_ASSERT_FIELD(esdb_sink_record, metadata_size, 88);
ESDB_ASSERT_FIELD(esdb_sink_record, created_unix_us, 96);

ESDB_ASSERT_SIZE(esdb_sink_host, 80);
ESDB_ASSERT_FIELD(esdb_sink_host, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_sink_host, abi_version, 4);
ESDB_ASSERT_FIELD(esdb_sink_host, ctx, 8);
ESDB_ASSERT_FIELD(esdb_sink_host, log, 16);
ESDB_ASSERT_FIELD(esdb_sink_host, connector_id, 24);
ESDB_ASSERT_FIELD(esdb_sink_host, fail_record, 32);
ESDB_ASSERT_FIELD(esdb_sink_host, max_batch_records, 40);
ESDB_ASSERT_FIELD(esdb_sink_host, reserved, 44);
ESDB_ASSERT_FIELD(esdb_sink_host, max_batch_bytes, 48);
ESDB_ASSERT_FIELD(esdb_sink_host, generation, 56);
ESDB_ASSERT_FIELD(esdb_sink_host, epoch, 64);
ESDB_ASSERT_FIELD(esdb_sink_host, max_in_flight, 72);
ESDB_ASSERT_FIELD(esdb_sink_host, reserved2, 76);

ESDB_ASSERT_SIZE(esdb_sink_plugin, 104);
ESDB_ASSERT_FIELD(esdb_sink_plugin, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_sink_plugin, abi_version, 4);
ESDB_ASSERT_FIELD(esdb_sink_plugin, min_host_abi_version, 8);
ESDB_ASSERT_FIELD(esdb_sink_plugin, name, 16);
ESDB_ASSERT_FIELD(esdb_sink_plugin, version, 24);
ESDB_ASSERT_FIELD(esdb_sink_plugin, description, 32);
ESDB_ASSERT_FIELD(esdb_sink_plugin, settings, 40);
ESDB_ASSERT_FIELD(esdb_sink_plugin, settings_count, 48);
ESDB_ASSERT_FIELD(esdb_sink_plugin, validate, 56);
ESDB_ASSERT_FIELD(esdb_sink_plugin, open, 64);
ESDB_ASSERT_FIELD(esdb_sink_plugin, write, 72);
ESDB_ASSERT_FIELD(esdb_sink_plugin, flush, 80);
ESDB_ASSERT_FIELD(esdb_sink_plugin, close, 88);
ESDB_ASSERT_FIELD(esdb_sink_plugin, flags, 96);

// esdb/node.h
ESDB_ASSERT_SIZE(esdb_position, 16);
ESDB_ASSERT_FIELD(esdb_position, commit, 0);
ESDB_ASSERT_FIELD(esdb_position, prepare, 8);

ESDB_ASSERT_SIZE(esdb_event_data, 64);
ESDB_ASSERT_FIELD(esdb_event_data, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_event_data, event_id, 8);
ESDB_ASSERT_FIELD(esdb_event_data, event_type, 16);
ESDB_ASSERT_FIELD(esdb_event_data, content_type, 24);
ESDB_ASSERT_FIELD(esdb_event_data, data, 32);
ESDB_ASSERT_FIELD(esdb_event_data, data_size, 40);
ESDB_ASSERT_FIELD(esdb_event_data, metadata, 48);
ESDB_ASSERT_FIELD(esdb_event_data, metadata_size, 56);

ESDB_ASSERT_SIZE(esdb_append_result, 40);
ESDB_ASSERT_FIELD(esdb_append_result, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_append_result, next_expected_revision, 8);
ESDB_ASSERT_FIELD(esdb_append_result, position, 16);
ESDB_ASSERT_FIELD(esdb_append_result, actual_revision, 32);

ESDB_ASSERT_SIZE(esdb_recorded_event, 104);
ESDB_ASSERT_FIELD(esdb_recorded_event, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_recorded_event, stream, 8);
ESDB_ASSERT_FIELD(esdb_recorded_event, revision, 16);
ESDB_ASSERT_FIELD(esdb_recorded_event, position, 24);
ESDB_ASSERT_FIELD(esdb_recorded_event, event_id, 40);
ESDB_ASSERT_FIELD(esdb_recorded_event, event_type, 48);
ESDB_ASSERT_FIELD(esdb_recorded_event, content_type, 56);
ESDB_ASSERT_FIELD(esdb_recorded_event, data, 64);
ESDB_ASSERT_FIELD(esdb_recorded_event, data_size, 72);
ESDB_ASSERT_FIELD(esdb_recorded_event, metadata, 80);
ESDB_ASSERT_FIELD(esdb_recorded_event, metadata_size, 88);
ESDB_ASSERT_FIELD(esdb_recorded_event, created_unix_us, 96);

ESDB_ASSERT_SIZE(esdb_subscribe_options, 64);
ESDB_ASSERT_FIELD(esdb_subscribe_options, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_subscribe_options, from, 4);
ESDB_ASSERT_FIELD(esdb_subscribe_options, position, 8);
ESDB_ASSERT_FIELD(esdb_subscribe_options, filter_scope, 24);
ESDB_ASSERT_FIELD(esdb_subscribe_options, filter_regex, 32);
ESDB_ASSERT_FIELD(esdb_subscribe_options, filter_prefixes, 40);
ESDB_ASSERT_FIELD(esdb_subscribe_options, filter_prefix_count, 48);
ESDB_ASSERT_FIELD(esdb_subscribe_options, checkpoint_interval, 56);

ESDB_ASSERT_SIZE(esdb_subscription_callbacks, 48);
ESDB_ASSERT_FIELD(esdb_subscription_callbacks, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_subscription_callbacks, user, 8);
ESDB_ASSERT_FIELD(esdb_subscription_callbacks, on_events, 16);
ESDB_ASSERT_FIELD(esdb_subscription_callbacks, on_checkpoint, 24);
ESDB_ASSERT_FIELD(esdb_subscription_callbacks, on_caught_up, 32);
ESDB_ASSERT_FIELD(esdb_subscription_callbacks, on_dropped, 40);

ESDB_ASSERT_SIZE(esdb_member, 32);
ESDB_ASSERT_FIELD(esdb_member, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_member, member_id, 8);
ESDB_ASSERT_FIELD(esdb_member, role, 16);
ESDB_ASSERT_FIELD(esdb_member, alive, 20);
ESDB_ASSERT_FIELD(esdb_member, http_endpoint, 24);

ESDB_ASSERT_SIZE(esdb_node_api, 112);
ESDB_ASSERT_FIELD(esdb_node_api, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_node_api, abi_version, 4);
ESDB_ASSERT_FIELD(esdb_node_api, ctx, 8);
ESDB_ASSERT_FIELD(esdb_node_api, node_version, 16);
ESDB_ASSERT_FIELD(esdb_node_api, append, 24);
ESDB_ASSERT_FIELD(esdb_node_api, read_stream, 32);
ESDB_ASSERT_FIELD(esdb_node_api, subscribe_all, 40);
ESDB_ASSERT_FIELD(esdb_node_api, unsubscribe_all, 48);
ESDB_ASSERT_FIELD(esdb_node_api, last_position, 56);
ESDB_ASSERT_FIELD(esdb_node_api, get_stream_metadata, 64);
ESDB_ASSERT_FIELD(esdb_node_api, set_stream_metadata, 72);
ESDB_ASSERT_FIELD(esdb_node_api, get_members, 80);
ESDB_ASSERT_FIELD(esdb_node_api, watch_members, 88);
ESDB_ASSERT_FIELD(esdb_node_api, unwatch_members, 96);
ESDB_ASSERT_FIELD(esdb_node_api, log, 104);

// esdb/connectors.h
ESDB_ASSERT_SIZE(esdb_http_header, 16);
ESDB_ASSERT_FIELD(esdb_http_header, name, 0);
ESDB_ASSERT_FIELD(esdb_http_header, value, 8);

ESDB_ASSERT_SIZE(esdb_http_request, 96);
ESDB_ASSERT_FIELD(esdb_http_request, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_http_request, method, 8);
ESDB_ASSERT_FIELD(esdb_http_request, path, 16);
ESDB_ASSERT_FIELD(esdb_http_request, query, 24);
ESDB_ASSERT_FIELD(esdb_http_request, headers, 32);
ESDB_ASSERT_FIELD(esdb_http_request, header_count, 40);
ESDB_ASSERT_FIELD(esdb_http_request, body, 48);
ESDB_ASSERT_FIELD(esdb_http_request, body_size, 56);
ESDB_ASSERT_FIELD(esdb_http_request, auth, 64);
ESDB_ASSERT_FIELD(esdb_http_request, user, 72);
ESDB_ASSERT_FIELD(esdb_http_request, roles, 80);
ESDB_ASSERT_FIELD(esdb_http_request, role_count, 88);

ESDB_ASSERT_SIZE(esdb_http_response, 48);
ESDB_ASSERT_FIELD(esdb_http_response, struct_size, 0);
ESDB_ASSERT_FIELD(esdb_http_response, status, 4);
ESDB_ASSERT_FIELD(esdb_http_response, content_type, 8);
ESDB_ASSERT_FIELD(esdb_http_response, body, 16);
ESDB_ASSERT_FIELD(esdb_http_response, body_size, 24);
ESDB_ASSERT_FIELD(esdb_http_response, headers, 32);
ESDB_ASSERT_FIELD(esdb_http_response, header_count, 40);

#endif  // LP64

namespace {

#if !defined(__LP64__)
// Said where it shows, rather than compiled to nothing.
TEST(AbiLayoutTest, PinnedForLp64Only) {
  GTEST_SKIP() << "the C ABI struct layouts are pinned for LP64 targets only";
}
#endif

TEST(AbiConstantsTest, VersionsAndEntrySymbol) {
  EXPECT_EQ(ESDB_SINK_ABI_VERSION, 1u);
  EXPECT_EQ(ESDB_NODE_ABI_VERSION, 1u);
  EXPECT_EQ(ESDB_CONNECTORS_ABI_VERSION, 1u);
  EXPECT_STREQ(ESDB_SINK_ENTRY_SYMBOL, "esdb_sink_entry");
  // Status values are wire values: they must never be renumbered.
  EXPECT_EQ(ESDB_SINK_OK, 0);
  EXPECT_EQ(ESDB_SINK_RETRY, 1);
  EXPECT_EQ(ESDB_SINK_FATAL, 2);
  EXPECT_EQ(ESDB_SINK_INVALID_CONFIG, 3);
  EXPECT_EQ(ESDB_NODE_ERROR, 8);
}

TEST(AbiStatusNameTest, SinkStatusNames) {
  EXPECT_STREQ(esdb_sink_status_name(ESDB_SINK_OK), "OK");
  EXPECT_STREQ(esdb_sink_status_name(ESDB_SINK_RETRY), "RETRY");
  EXPECT_STREQ(esdb_sink_status_name(ESDB_SINK_FATAL), "FATAL");
  EXPECT_STREQ(esdb_sink_status_name(ESDB_SINK_INVALID_CONFIG), "INVALID_CONFIG");
  EXPECT_STREQ(esdb_sink_status_name(4), "UNKNOWN");
  EXPECT_STREQ(esdb_sink_status_name(-1), "UNKNOWN");
}

TEST(AbiStatusNameTest, NodeStatusNames) {
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_OK), "OK");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_WRONG_EXPECTED_VERSION), "WRONG_EXPECTED_VERSION");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_STREAM_NOT_FOUND), "STREAM_NOT_FOUND");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_STREAM_DELETED), "STREAM_DELETED");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_NOT_LEADER), "NOT_LEADER");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_UNAVAILABLE), "UNAVAILABLE");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_ACCESS_DENIED), "ACCESS_DENIED");
  EXPECT_STREQ(esdb_node_status_name(ESDB_NODE_ERROR), "ERROR");
  EXPECT_STREQ(esdb_node_status_name(9), "UNKNOWN");
}

}  // namespace
