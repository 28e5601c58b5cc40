# esdb_add_sink(<target> <name> SOURCES <files...> [LIBS <targets...>])
#
# Builds a sink plugin the way the host expects it: a MODULE named libesdb_sink_<name>.so,
# compiled against the sink ABI headers only (esdb_connectors::sink_sdk), with hidden visibility
# so that esdb_sink_entry (marked ESDB_SINK_EXPORT) is the only exported symbol, and linked with
# --no-undefined so a missing library fails the link instead of the host's dlopen (which uses
# RTLD_NOW | RTLD_LOCAL). C sources are compiled as C99 (what esdb/sink.h needs) unless the
# target or the project asks for another standard, and with GCC or Clang every source gets
# -Wall -Wextra, C sources also -Wmissing-prototypes and -Wstrict-prototypes, so a wrongly typed
# entry point or a forgotten `static` shows at compile time.
#
# A linker version script (esdb_sink_exports.map, beside this file) makes sure of it even for
# C++ code whose headers mark symbols visible.
#
# <name> becomes the file name only; the host finds a plugin by the `name` in its table.
# Shipped with the installed package (find_package(esdb_connectors)) and used by the in-tree
# plugins too, so both are built the same way.
if(CMAKE_VERSION VERSION_LESS 3.17)
  message(FATAL_ERROR "esdb_add_sink needs CMake 3.17 or later")
endif()

function(esdb_add_sink target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "esdb_add_sink(${target}): unexpected arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT name MATCHES "^[A-Za-z0-9_.-]+$")
    message(FATAL_ERROR "esdb_add_sink(${target}): '${name}' is not usable in a file name")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "esdb_add_sink(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME esdb_sink_${name}
    PREFIX lib
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE esdb_connectors::sink_sdk ${ARG_LIBS})
  get_target_property(c_standard ${target} C_STANDARD)
  if(NOT c_standard)
    set_target_properties(${target} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  endif()
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang" OR CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra
      "$<$<COMPILE_LANGUAGE:C>:-Wmissing-prototypes;-Wstrict-prototypes>")
  endif()
  if(NOT APPLE)
    set(exports ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/esdb_sink_exports.map)
    target_link_options(${target} PRIVATE LINKER:--no-undefined LINKER:--version-script=${exports})
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${exports})
  endif()
endfunction()
