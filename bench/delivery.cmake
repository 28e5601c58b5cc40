# Delivery throughput: in-memory node -> runner -> null-sink plugin, checkpoints on and off.
if(TARGET esdb_lognode)
  add_executable(esdb_delivery_bench ${CMAKE_CURRENT_LIST_DIR}/delivery/delivery_bench.cc)
  target_link_libraries(esdb_delivery_bench PRIVATE esdb_delivery esdb_sinks esdb_lognode)
  target_compile_definitions(esdb_delivery_bench PRIVATE ESDB_PLUGIN_DIR="${ESDB_PLUGIN_DIR}")
  add_dependencies(esdb_delivery_bench esdb_sink_null)
  # Briefly, so that CI notices when it stops running; no figure is asserted.
  add_test(NAME bench_delivery_short COMMAND esdb_delivery_bench 20000 200 1)
  set_tests_properties(bench_delivery_short PROPERTIES TIMEOUT 300 LABELS bench)
endif()
