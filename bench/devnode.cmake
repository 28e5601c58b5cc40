# Dev-node log: raw $all scan through the node ABI vs. a connector delivering to the null sink.
if(TARGET esdb_lognode)
  add_executable(esdb_devnode_bench ${CMAKE_CURRENT_LIST_DIR}/devnode/devnode_bench.cc)
  target_link_libraries(esdb_devnode_bench PRIVATE esdb_delivery esdb_sinks esdb_lognode)
  target_compile_definitions(esdb_devnode_bench PRIVATE ESDB_PLUGIN_DIR="${ESDB_PLUGIN_DIR}")
  add_dependencies(esdb_devnode_bench esdb_sink_null)
  # Briefly, so that CI notices when it stops running; no figure is asserted.
  add_test(NAME bench_devnode_short COMMAND esdb_devnode_bench 20000)
  set_tests_properties(bench_devnode_short PROPERTIES TIMEOUT 300 LABELS bench)
endif()
