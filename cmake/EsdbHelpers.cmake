include(GoogleTest)

# esdb_test(<name> SOURCES <files...> LIBS <targets...>)
# One GoogleTest executable registered with CTest, test by test.
function(esdb_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    ESDB_PLUGIN_DIR="${ESDB_PLUGIN_DIR}"
    ESDB_LIB_DIR="${ESDB_LIB_DIR}"
    ESDB_BIN_DIR="${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()

# esdb_sink_plugin(<target> <short-name> SOURCES <files...> [LIBS <targets...>])
# Builds libesdb_sink_<short-name>.so into the plugin folder, against the C ABI only.
function(esdb_sink_plugin target short_name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME esdb_sink_${short_name}
    PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${ESDB_PLUGIN_DIR})
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(${target} PRIVATE ${ARG_LIBS})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
endfunction()
