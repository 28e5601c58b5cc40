# Live append -> sink latency (p50/p99/p99.9) at fixed rates, in process and through the
# side-car, with a bench-only sink plugin (bench/latency/latency_sink.c) that notes when each
# probe reaches it. The plugin goes to a plugin folder of its own, so no host lists it, and
# exports one symbol beyond the sink ABI for the benchmark to take the samples (hence a plain
# MODULE rather than esdb_add_sink, whose export map allows only the entry point).
# `bench_latency_short` runs it briefly (--short) so that CI notices when it stops running; it
# asserts no figure.
if(TARGET esdb_sidecar AND TARGET esdb_devnode_grpc)
  set(ESDB_LATENCY_PLUGIN_DIR ${CMAKE_BINARY_DIR}/bench/plugins)
  add_library(esdb_bench_sink_latency MODULE ${CMAKE_CURRENT_LIST_DIR}/latency/latency_sink.c)
  set_target_properties(esdb_bench_sink_latency PROPERTIES
    OUTPUT_NAME esdb_sink_latency PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${ESDB_LATENCY_PLUGIN_DIR}
    C_STANDARD 99 C_STANDARD_REQUIRED ON C_VISIBILITY_PRESET hidden)
  target_compile_definitions(esdb_bench_sink_latency PRIVATE _POSIX_C_SOURCE=200809L)
  target_link_libraries(esdb_bench_sink_latency PRIVATE esdb_connectors::sink_sdk Threads::Threads)
  add_executable(esdb_latency_bench ${CMAKE_CURRENT_LIST_DIR}/latency/latency_bench.cc)
  target_link_libraries(esdb_latency_bench
    PRIVATE esdb_sidecar esdb_devnode_grpc esdb_hosting nlohmann_json::nlohmann_json
    absl::strings ${CMAKE_DL_LIBS})
  target_compile_definitions(esdb_latency_bench PRIVATE
    ESDB_LATENCY_PLUGIN_DIR="${ESDB_LATENCY_PLUGIN_DIR}" ESDB_LIB_DIR="${ESDB_LIB_DIR}")
  add_dependencies(esdb_latency_bench esdb_connectors esdb_bench_sink_latency)
  add_test(NAME bench_latency_short COMMAND esdb_latency_bench --short)
  set_tests_properties(bench_latency_short PROPERTIES TIMEOUT 300 LABELS bench)
endif()
