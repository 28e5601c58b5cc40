# http-sink throughput: the plugin delivering to a local keep-alive receiver process, one request
# per event (batching:batchSize 1) and JSON arrays of 500; with --latency-ms, a receiver that
# answers late and batching:maxInFlight 1, 4 and 16.
if(TARGET esdb_http_test_support AND TARGET esdb_sink_http)
  add_executable(esdb_http_sink_bench ${CMAKE_CURRENT_LIST_DIR}/http_sink/http_sink_bench.cc)
  target_link_libraries(esdb_http_sink_bench PRIVATE esdb_sinks esdb_http_test_support absl::strings)
  target_compile_definitions(esdb_http_sink_bench PRIVATE
    ESDB_PLUGIN_DIR="${ESDB_PLUGIN_DIR}"
    ESDB_HTTP_RECEIVER="$<TARGET_FILE:esdb_http_test_receiver>")
  add_dependencies(esdb_http_sink_bench esdb_sink_http esdb_http_test_receiver)
endif()
