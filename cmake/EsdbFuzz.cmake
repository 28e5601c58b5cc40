# ESDB_FUZZ=ON: a build tree that holds the libFuzzer harnesses of tests/fuzz and nothing else
# worth building. Every target in it is compiled with coverage instrumentation for libFuzzer and
# with AddressSanitizer and UndefinedBehaviorSanitizer, so that whatever project code a harness
# reaches reports its memory errors and undefined behaviour as a crash. The harness executables
# link libFuzzer itself (esdb_fuzzer() in tests/fuzz).
#
# Included from the top-level CMakeLists.txt before any target is defined.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "ESDB_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++")
endif()

# Asserts stay on (no NDEBUG): a library's own consistency checks (nlohmann_json, Beast) are
# findings too. -O1 keeps the fuzzers fast without inlining stacks beyond recognition.
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Fuzz)
endif()
set(CMAKE_C_FLAGS_FUZZ "-O1 -gline-tables-only")
set(CMAKE_CXX_FLAGS_FUZZ "-O1 -gline-tables-only")

set(ESDB_SANITIZERS address,undefined)
add_compile_options(
  -fsanitize=fuzzer-no-link,${ESDB_SANITIZERS}
  # Undefined behaviour aborts instead of printing and carrying on, so libFuzzer sees it.
  -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
# Executables get the sanitizer runtimes; shared objects (the sink plugins) take them from the
# executable that loads them, see esdb_sink_plugin().
add_link_options($<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:-fsanitize=${ESDB_SANITIZERS}>)
