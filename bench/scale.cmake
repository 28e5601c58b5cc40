# Scale: a real dev node process with N connectors (enable time, idle CPU and log growth, RSS,
# threads, listing latency, append-to-sink latency, shutdown and final checkpoints). It reuses the
# end-to-end tests' process and HTTP helpers, and reads the stopped node's SQLite log directly.
# `bench_scale_short` runs it briefly (--short) so that CI notices when it stops running; like
# every bench it asserts no figure.
if(TARGET esdb_e2e_support AND TARGET esdb_lognode)
  add_executable(esdb_scale_bench ${CMAKE_CURRENT_LIST_DIR}/scale/scale_bench.cc)
  target_link_libraries(esdb_scale_bench PRIVATE esdb_e2e_support esdb_lognode
    absl::str_format absl::strings absl::time nlohmann_json::nlohmann_json)
  add_dependencies(esdb_scale_bench esdb-devnode esdb_connectors esdb_sink_null esdb_sink_file)
  add_test(NAME bench_scale_short COMMAND esdb_scale_bench --short)
  set_tests_properties(bench_scale_short PROPERTIES TIMEOUT 600 LABELS bench)
endif()
