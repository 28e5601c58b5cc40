# postgres-sink throughput into a throwaway local PostgreSQL server (the test support of
# plugins/postgres): append mode (binary COPY) and statements mode (pipelined upserts) at batch
# 500, with batch 1 and 100 for comparison. `bench_postgres_sink_short` runs it with few events
# so that CI notices when it stops running; like every bench it asserts no figure.
if(TARGET esdb_pg_test_server AND TARGET esdb_sink_postgres)
  add_executable(esdb_postgres_sink_bench ${CMAKE_CURRENT_LIST_DIR}/postgres/postgres_sink_bench.cc)
  target_link_libraries(esdb_postgres_sink_bench PRIVATE esdb_sinks esdb_pg_test_server
                        absl::strings)
  target_compile_definitions(esdb_postgres_sink_bench PRIVATE ESDB_PLUGIN_DIR="${ESDB_PLUGIN_DIR}")
  add_dependencies(esdb_postgres_sink_bench esdb_sink_postgres)
  add_test(NAME bench_postgres_sink_short COMMAND esdb_postgres_sink_bench --short)
  set_tests_properties(bench_postgres_sink_short PROPERTIES TIMEOUT 300 LABELS bench)
endif()
