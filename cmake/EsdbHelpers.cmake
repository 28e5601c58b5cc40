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
  if(ESDB_FUZZ)
    # The fuzz tree builds only the harnesses; a unit test there is built on request only.
    set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON)
    return()
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()

# esdb_sink_plugin(<target> <short-name> SOURCES <files...> [LIBS <targets...>])
# Builds libesdb_sink_<short-name>.so into the plugin folder, against the C ABI only, with the
# same esdb_add_sink() that the installed SDK gives outside authors, and installs it next to the
# installed library (<libdir>/esdb-connectors/plugins), where the library looks by default.
include(${CMAKE_CURRENT_LIST_DIR}/EsdbAddSink.cmake)
function(esdb_sink_plugin target short_name)
  esdb_add_sink(${target} ${short_name} ${ARGN})
  set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ESDB_PLUGIN_DIR})
  # In-tree plugins share plugins/common/ (C++ boundary helpers).
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/plugins)
  if(ESDB_FUZZ)
    # Instrumented code refers to sanitizer and libFuzzer symbols that only the loading
    # executable defines; undo esdb_add_sink's --no-undefined for them.
    target_link_options(${target} PRIVATE LINKER:-z,undefs)
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${ESDB_INSTALL_PLUGINDIR} COMPONENT runtime)
  set_property(GLOBAL APPEND PROPERTY ESDB_INSTALLED_PLUGINS ${target})
endfunction()
