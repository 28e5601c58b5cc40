#!/usr/bin/env bash
# The public headers as sink authors and hosts compile them (include/esdb/*.h):
#   1. each header on its own, and a C plugin defining esdb_sink_entry, compile warning-free as
#      C99 and C11 with -Wall -Wextra -pedantic -Wmissing-prototypes -Wstrict-prototypes -Werror
#      (the prototype in sink.h is what keeps -Wmissing-prototypes quiet);
#   2. the same as C++17 with -Wall -Wextra -pedantic -Wmissing-declarations -Werror, where a
#      definition of esdb_sink_entry WITHOUT extern "C" still gets C linkage (unmangled symbol);
#   3. an entry point of the wrong type is a compile error: in C always, in C++ when declared
#      extern "C" (without it, C++ takes it for an overload with a mangled name, which only the
#      host's load catches; so C++ plugins should keep writing extern "C").
# usage: headers_test.sh INCLUDE_DIR WORK_DIR CC CXX [CC CXX]...
set -euo pipefail

INCLUDE=${1:?usage: headers_test.sh INCLUDE_DIR WORK_DIR CC CXX [CC CXX]...}
WORK=${2:?}
shift 2
[ $# -ge 2 ] || { echo "usage: headers_test.sh INCLUDE_DIR WORK_DIR CC CXX [CC CXX]..." >&2; exit 2; }

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"

headers=(abi.h sink.h node.h connectors.h)
for h in "${headers[@]}"; do
  printf '#include "esdb/%s"\n' "$h" >"$WORK/only_${h%.h}.c"
  # Something to compile besides the header, so that no translation unit is empty.
  printf 'int esdb_header_check_%s;\n' "${h%.h}" >>"$WORK/only_${h%.h}.c"
  cp "$WORK/only_${h%.h}.c" "$WORK/only_${h%.h}.cc"
done

cat >"$WORK/plugin.c" <<'C'
#include "esdb/connectors.h"
#include "esdb/sink.h"

static void Close(esdb_sink_instance* sink) { (void)sink; }

static const esdb_sink_plugin kPlugin = {sizeof(esdb_sink_plugin), ESDB_SINK_ABI_VERSION, 1,
                                         "check-sink", "0", "", NULL, 0, NULL, NULL, NULL, NULL,
                                         Close, 0};

/* No prototype of its own: sink.h's must match, and it is the reason no warning comes. */
ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(uint32_t host_abi_version) {
  return ESDB_ABI_SATISFIES(host_abi_version, kPlugin.min_host_abi_version) &&
                 ESDB_HAS_FIELD(esdb_sink_plugin, &kPlugin, close) &&
                 esdb_sink_status_name(ESDB_SINK_OK)[0] == 'O' &&
                 esdb_node_status_name(ESDB_NODE_OK)[0] == 'O'
             ? &kPlugin
             : NULL;
}
C
# The same in C++, without extern "C" on the definition.
sed -e 's/(void)sink;/static_cast<void>(sink);/' -e 's/NULL/nullptr/g' "$WORK/plugin.c" \
  >"$WORK/plugin.cc"

cat >"$WORK/wrong_type.c" <<'C'
#include "esdb/sink.h"
/* An entry point that takes nothing: the host would call it with an argument. */
ESDB_SINK_EXPORT const esdb_sink_plugin* esdb_sink_entry(void) { return NULL; }
C
sed -e 's/^ESDB_SINK_EXPORT/extern "C" ESDB_SINK_EXPORT/' -e 's/NULL/nullptr/' \
  "$WORK/wrong_type.c" >"$WORK/wrong_type.cc"

c_flags=(-Wall -Wextra -pedantic -Wmissing-prototypes -Wstrict-prototypes -Werror -I"$INCLUDE")
cxx_flags=(-std=c++17 -Wall -Wextra -pedantic -Wmissing-declarations -Werror -I"$INCLUDE")

compile() {  # compile LOG COMPILER ARGS...: fails the test, showing LOG, if the compiler does
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$*"; }
}

while [ $# -ge 2 ]; do
  cc=$1 cxx=$2
  shift 2
  tag=$(basename "$cc")
  for std in c99 c11; do
    for h in "${headers[@]}"; do
      compile "$WORK/$tag-$std-$h.log" "$cc" "-std=$std" "${c_flags[@]}" -c \
        "$WORK/only_${h%.h}.c" -o "$WORK/$tag-$std-${h%.h}.o"
    done
    compile "$WORK/$tag-$std-plugin.log" "$cc" "-std=$std" "${c_flags[@]}" -c \
      "$WORK/plugin.c" -o "$WORK/$tag-$std-plugin.o"
    if "$cc" "-std=$std" -I"$INCLUDE" -c "$WORK/wrong_type.c" -o "$WORK/wrong.o" \
         >"$WORK/$tag-$std-wrong.log" 2>&1; then
      fail "$cc -std=$std accepted an esdb_sink_entry of the wrong type"
    fi
  done
  for h in "${headers[@]}"; do
    compile "$WORK/$tag-cxx-$h.log" "$cxx" "${cxx_flags[@]}" -c "$WORK/only_${h%.h}.cc" \
      -o "$WORK/$tag-cxx-${h%.h}.o"
  done
  compile "$WORK/$tag-cxx-plugin.log" "$cxx" "${cxx_flags[@]}" -c "$WORK/plugin.cc" \
    -o "$WORK/$tag-cxx-plugin.o"
  nm --defined-only "$WORK/$tag-cxx-plugin.o" | awk '{print $3}' | grep -qx esdb_sink_entry ||
    fail "$cxx: esdb_sink_entry defined without extern \"C\" did not get C linkage:
$(nm --defined-only "$WORK/$tag-cxx-plugin.o")"
  if "$cxx" -std=c++17 -I"$INCLUDE" -c "$WORK/wrong_type.cc" -o "$WORK/wrong.o" \
       >"$WORK/$tag-cxx-wrong.log" 2>&1; then
    fail "$cxx accepted an esdb_sink_entry of the wrong type"
  fi
  printf '== %s / %s: ok\n' "$cc" "$cxx"
done
rm -rf "$WORK"
