# Side-car vs. in-process host: null-sink delivery through the same library, both ways.
if(TARGET esdb_sidecar AND TARGET esdb_devnode_grpc)
  add_executable(esdb_sidecar_bench ${CMAKE_CURRENT_LIST_DIR}/sidecar/sidecar_bench.cc)
  target_link_libraries(esdb_sidecar_bench
    PRIVATE esdb_sidecar esdb_devnode_grpc esdb_hosting nlohmann_json::nlohmann_json)
  target_compile_definitions(esdb_sidecar_bench PRIVATE
    ESDB_PLUGIN_DIR="${ESDB_PLUGIN_DIR}" ESDB_LIB_DIR="${ESDB_LIB_DIR}")
  add_dependencies(esdb_sidecar_bench esdb_connectors esdb_sink_null)
  # Briefly, so that CI notices when it stops running; no figure is asserted.
  add_test(NAME bench_sidecar_short COMMAND esdb_sidecar_bench 5000)
  set_tests_properties(bench_sidecar_short PROPERTIES TIMEOUT 300 LABELS bench)
endif()
