# What `cmake --install` puts under the prefix (plugins install themselves in esdb_sink_plugin):
#   include/esdb/{sink,node,connectors}.h
#   lib/libesdb_connectors.so*                      the library a node loads
#   lib/esdb-connectors/plugins/libesdb_sink_*.so   built-in sinks (the library's default folder)
#   bin/esdb-devnode, bin/esdb-connectors-sidecar   the hosts (finding ../lib by default)
#   lib/cmake/esdb_connectors/                      find_package(esdb_connectors)
#   lib/pkgconfig/esdb-sink.pc                      pkg-config --cflags esdb-sink
# Included after every module, so that if(TARGET ...) sees targets from any folder.
include(CMakePackageConfigHelpers)

install(FILES
    ${PROJECT_SOURCE_DIR}/include/esdb/sink.h
    ${PROJECT_SOURCE_DIR}/include/esdb/node.h
    ${PROJECT_SOURCE_DIR}/include/esdb/connectors.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/esdb)

# Hosts link esdb_connectors::connectors (or dlopen it); it carries the same include folder.
target_link_libraries(esdb_connectors INTERFACE esdb_sink_sdk)
set_target_properties(esdb_connectors PROPERTIES EXPORT_NAME connectors)
install(TARGETS esdb_sink_sdk esdb_connectors EXPORT esdb_connectorsTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

foreach(host esdb-devnode esdb-connectors-sidecar)
  if(TARGET ${host})
    install(TARGETS ${host} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

install(EXPORT esdb_connectorsTargets
  NAMESPACE esdb_connectors::
  DESTINATION ${ESDB_INSTALL_CMAKEDIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/esdb_connectorsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/esdb_connectorsConfig.cmake
  INSTALL_DESTINATION ${ESDB_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR ESDB_INSTALL_PLUGINDIR)
# The sink ABI has its own version (ESDB_SINK_ABI_VERSION); this one is the package's.
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/esdb_connectorsConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES
    ${CMAKE_CURRENT_BINARY_DIR}/esdb_connectorsConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/esdb_connectorsConfigVersion.cmake
    ${CMAKE_CURRENT_LIST_DIR}/EsdbAddSink.cmake
    ${CMAKE_CURRENT_LIST_DIR}/esdb_sink_exports.map
  DESTINATION ${ESDB_INSTALL_CMAKEDIR})

# pkg-config: relative to the .pc file's own folder, so the prefix can move after installing
# (cmake --install --prefix, DESTDIR, a copied tree).
file(RELATIVE_PATH ESDB_PC_TO_PREFIX
  /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" ESDB_PC_TO_PREFIX "${ESDB_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/esdb-sink.pc.in
  ${CMAKE_CURRENT_BINARY_DIR}/esdb-sink.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/esdb-sink.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Everything above must be built before installing. A full build does that; to run only the
# SDK test after a partial build: cmake --build <build> --target esdb_installable.
get_property(esdb_installed_plugins GLOBAL PROPERTY ESDB_INSTALLED_PLUGINS)
add_custom_target(esdb_installable)
add_dependencies(esdb_installable esdb_connectors ${esdb_installed_plugins})
foreach(host esdb-devnode esdb-connectors-sidecar)
  if(TARGET ${host})
    add_dependencies(esdb_installable ${host})
  endif()
endforeach()
