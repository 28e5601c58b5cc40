# What `cmake --install` puts under the prefix, in two components:
#   sdk (all a sink author needs; depends on nothing else being installed):
#     include/esdb/{abi,sink,node,connectors}.h
#     lib/cmake/esdb_connectors/                    find_package(esdb_connectors), esdb_add_sink
#     lib/pkgconfig/esdb-sink.pc                    pkg-config --cflags esdb-sink
#   runtime (what a node runs; plugins install themselves in esdb_sink_plugin):
#     lib/libesdb_connectors.so*                    the library a node loads
#     lib/esdb-connectors/plugins/libesdb_sink_*.so built-in sinks (the library's default folder)
#     bin/esdb-devnode, bin/esdb-connectors-sidecar the hosts (finding ../lib by default)
#     lib/cmake/esdb_connectors/esdb_connectorsLibraryTargets*.cmake   esdb_connectors::connectors
# `cmake --install <build>` installs both; `--component sdk` the SDK alone.
# Included after every module, so that if(TARGET ...) sees targets from any folder.
include(CMakePackageConfigHelpers)

file(GLOB esdb_public_headers ${PROJECT_SOURCE_DIR}/include/esdb/*.h)
install(FILES ${esdb_public_headers}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/esdb
  COMPONENT sdk)

# Two export sets, so that the SDK's package works without the library: the headers target in
# the sdk component, the library's target in the runtime one (the package config includes it
# only when it is installed).
install(TARGETS esdb_sink_sdk EXPORT esdb_connectorsSdkTargets COMPONENT sdk)
# Hosts link esdb_connectors::connectors (or dlopen it); it carries the same include folder.
target_link_libraries(esdb_connectors INTERFACE esdb_sink_sdk)
set_target_properties(esdb_connectors PROPERTIES EXPORT_NAME connectors)
install(TARGETS esdb_connectors EXPORT esdb_connectorsLibraryTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime)

foreach(host esdb-devnode esdb-connectors-sidecar)
  if(TARGET ${host})
    install(TARGETS ${host} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  endif()
endforeach()

install(EXPORT esdb_connectorsSdkTargets
  NAMESPACE esdb_connectors::
  DESTINATION ${ESDB_INSTALL_CMAKEDIR}
  COMPONENT sdk)
install(EXPORT esdb_connectorsLibraryTargets
  NAMESPACE esdb_connectors::
  DESTINATION ${ESDB_INSTALL_CMAKEDIR}
  COMPONENT runtime)
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
  DESTINATION ${ESDB_INSTALL_CMAKEDIR}
  COMPONENT sdk)

# pkg-config: relative to the .pc file's own folder, so the prefix can move after installing
# (cmake --install --prefix, DESTDIR, a copied tree).
file(RELATIVE_PATH ESDB_PC_TO_PREFIX
  /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" ESDB_PC_TO_PREFIX "${ESDB_PC_TO_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/esdb-sink.pc.in
  ${CMAKE_CURRENT_BINARY_DIR}/esdb-sink.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/esdb-sink.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT sdk)

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
