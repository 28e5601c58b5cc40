# Log node benchmarks: append and catch-up throughput of the in-memory and SQLite logs.
if(TARGET esdb_lognode)
  add_executable(esdb_lognode_bench ${CMAKE_CURRENT_LIST_DIR}/lognode/lognode_bench.cc)
  target_link_libraries(esdb_lognode_bench PRIVATE esdb_lognode benchmark::benchmark_main)
endif()
