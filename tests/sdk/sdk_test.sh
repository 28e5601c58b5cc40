#!/usr/bin/env bash
# The sink SDK as an outside author sees it:
#   1. `cmake --install --component sdk` into an empty prefix gives headers, the CMake package and
#      the pkg-config file, and nothing else (no library, no host, no plugin);
#   2. examples/c-sink, copied out of the source tree, configures with find_package against that
#      SDK alone, builds warning-free, exports nothing but esdb_sink_entry, and installs itself
#      into the plugin folder; asking for the library component fails cleanly; and
#      `pkg-config --cflags esdb-sink` is enough to compile against the headers;
#   3. `cmake --install` of everything into the same prefix adds the documented runtime layout;
#      the installed built-in plugins, made by the same helper, export only the entry too, and a
#      host links esdb_connectors::connectors;
#   4. the INSTALLED esdb-devnode, with no path flags, finds the installed library, which finds
#      the built-in plugins and the example in its default plugin folder; a connector of the
#      example sink created over HTTP delivers appended events to its file, and its secret
#      setting is never shown.
# usage: sdk_test.sh BUILD_DIR SOURCE_DIR WORK_DIR [CMAKE]
# WORK_DIR is wiped first, and removed after a pass unless ESDB_SDK_TEST_KEEP is set.
set -euo pipefail
unset DESTDIR  # the install must land in the prefix below

BUILD=${1:?usage: sdk_test.sh BUILD_DIR SOURCE_DIR WORK_DIR [CMAKE]}
SRC=${2:?}
WORK=${3:?}
CMAKE=${4:-cmake}
PREFIX=$WORK/prefix
NODE_OUT=$WORK/node.out
NODE_PID=
DRAIN_PID=

stop_node() {
  if [ -n "$NODE_PID" ]; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
    NODE_PID=
  fi
  if [ -n "$DRAIN_PID" ]; then
    wait "$DRAIN_PID" 2>/dev/null || true
    DRAIN_PID=
  fi
}
trap stop_node EXIT

step() { printf '== %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [ -s "$NODE_OUT" ]; then
    printf -- '--- dev node output (%s)\n' "$NODE_OUT" >&2
    tail -n 50 "$NODE_OUT" >&2
  fi
  exit 1
}
# run LOG CMD...: runs CMD with its output in LOG, shown only when it fails.
run() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$* (output above, also in $log)"; }
}

rm -rf "$WORK"
mkdir -p "$WORK"

step "cmake --install $BUILD --prefix $PREFIX --component sdk"
run "$WORK/install-sdk.log" "$CMAKE" --install "$BUILD" --prefix "$PREFIX" --component sdk
sdk_files=(include/esdb/abi.h include/esdb/sink.h include/esdb/node.h include/esdb/connectors.h
           lib/cmake/esdb_connectors/esdb_connectorsConfig.cmake
           lib/cmake/esdb_connectors/esdb_connectorsConfigVersion.cmake
           lib/cmake/esdb_connectors/esdb_connectorsSdkTargets.cmake
           lib/cmake/esdb_connectors/EsdbAddSink.cmake
           lib/cmake/esdb_connectors/esdb_sink_exports.map
           lib/pkgconfig/esdb-sink.pc)
for f in "${sdk_files[@]}"; do
  [ -e "$PREFIX/$f" ] || fail "not installed by the sdk component: $f"
done
extra=$(cd "$PREFIX" && find . -type f | sed 's|^\./||' | sort |
        grep -v -x -F "$(printf '%s\n' "${sdk_files[@]}")" || true)
[ -z "$extra" ] || fail "the sdk component installs more than the SDK: $extra"

step "build examples/c-sink against the SDK alone"
# A copy outside the source tree: the example must stand on the installed package alone.
cp -r "$SRC/examples/c-sink" "$WORK/c-sink"
run "$WORK/example-configure.log" "$CMAKE" -S "$WORK/c-sink" -B "$WORK/c-sink-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_C_FLAGS=-Werror -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
grep -qx "esdb_connectors_DIR:PATH=$PREFIX/lib/cmake/esdb_connectors" \
  "$WORK/c-sink-build/CMakeCache.txt" || fail "find_package did not use $PREFIX"
run "$WORK/example-build.log" "$CMAKE" --build "$WORK/c-sink-build"
grep -q -- "$PREFIX/include" "$WORK/c-sink-build/compile_commands.json" ||
  fail "the example was not compiled with $PREFIX/include"
if grep -q -e "$SRC/include" -e "$SRC/src" -e "$SRC/examples" \
     "$WORK/c-sink-build/compile_commands.json"; then
  fail "the example build refers to the source tree $SRC"
fi
# esdb_add_sink compiles C as C99 with the warnings sink.h is checked with.
for flag in -std=c99 -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes; do
  grep -q -- "$flag" "$WORK/c-sink-build/compile_commands.json" ||
    fail "esdb_add_sink did not compile the example with $flag"
done
exports_only_entry() {  # exports_only_entry PLUGIN: fails unless esdb_sink_entry is all it exports
  local exported
  exported=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v -x -e _init -e _fini | sort)
  [ "$exported" = "esdb_sink_entry" ] || fail "$1 exports more than esdb_sink_entry: $exported"
}
PLUGIN=$WORK/c-sink-build/libesdb_sink_audit.so
[ -f "$PLUGIN" ] || fail "esdb_add_sink did not produce libesdb_sink_audit.so"
exports_only_entry "$PLUGIN"
run "$WORK/example-install.log" "$CMAKE" --install "$WORK/c-sink-build"
[ -f "$PREFIX/lib/esdb-connectors/plugins/libesdb_sink_audit.so" ] ||
  fail "the example did not install into ESDB_CONNECTORS_PLUGIN_DIR"

step "the library component is reported missing from the SDK alone"
mkdir -p "$WORK/host"
cat >"$WORK/host/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.17)
project(host_check LANGUAGES C)
find_package(esdb_connectors REQUIRED COMPONENTS connectors)
add_executable(host_check host_check.c)
target_link_libraries(host_check PRIVATE esdb_connectors::connectors)
CMAKE
cat >"$WORK/host/host_check.c" <<'C'
#include <esdb/connectors.h>
int main(void) { return esdb_connectors_abi_version() == ESDB_CONNECTORS_ABI_VERSION ? 0 : 1; }
C
if "$CMAKE" -S "$WORK/host" -B "$WORK/host-build-sdk" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$WORK/host-sdk.log" 2>&1; then
  fail "find_package(esdb_connectors COMPONENTS connectors) succeeded without the library"
fi

step "compile with pkg-config --cflags esdb-sink (SDK alone)"
cflags=$(PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --cflags esdb-sink) ||
  fail "pkg-config does not know esdb-sink"
include_dir=${cflags#-I}
include_dir=${include_dir%% *}
[ "$(cd "$include_dir" && pwd -P)" = "$(cd "$PREFIX/include" && pwd -P)" ] ||
  fail "pkg-config --cflags esdb-sink gives '$cflags', not $PREFIX/include"
cat >"$WORK/pc_check.c" <<'C'
#include <esdb/sink.h>
#include <string.h>
int main(void) {
  esdb_sink_record record;
  record.struct_size = (uint32_t)sizeof record;
  return strcmp(esdb_sink_status_name(ESDB_SINK_RETRY), "RETRY") == 0 &&
                 ESDB_HAS_FIELD(esdb_sink_record, &record, created_unix_us)
             ? 0 : 1;
}
C
# shellcheck disable=SC2086 # cflags is a list of words
run "$WORK/pc_check.log" cc -std=c99 -Wall -Wextra -pedantic -Werror $cflags \
  -o "$WORK/pc_check" "$WORK/pc_check.c"
"$WORK/pc_check" || fail "pc_check did not run"

step "cmake --install $BUILD --prefix $PREFIX (everything)"
run "$WORK/install.log" "$CMAKE" --install "$BUILD" --prefix "$PREFIX"
for f in lib/libesdb_connectors.so bin/esdb-devnode \
         lib/esdb-connectors/plugins/libesdb_sink_null.so \
         lib/esdb-connectors/plugins/libesdb_sink_file.so \
         lib/cmake/esdb_connectors/esdb_connectorsLibraryTargets.cmake; do
  [ -e "$PREFIX/$f" ] || fail "not installed: $f"
done
# The built-in plugins go through the same esdb_add_sink, C++ ones included.
for builtin in "$PREFIX"/lib/esdb-connectors/plugins/libesdb_sink_*.so; do
  exports_only_entry "$builtin"
done

step "link a host against esdb_connectors::connectors"
run "$WORK/host-configure.log" "$CMAKE" -S "$WORK/host" -B "$WORK/host-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_C_FLAGS=-Werror
run "$WORK/host-build.log" "$CMAKE" --build "$WORK/host-build"
"$WORK/host-build/host_check" || fail "host_check: the installed library's ABI version differs"

step "start the installed esdb-devnode"
grpc_flags=()
if "$PREFIX/bin/esdb-devnode" --help | grep -q -- '--grpc-port'; then
  grpc_flags=(--grpc-port 0)
fi
# This test is about the install layout, not security: plain HTTP, no credentials.
if "$PREFIX/bin/esdb-devnode" --help | grep -q -- '--insecure'; then
  grpc_flags+=(--insecure)
fi
mkfifo "$WORK/node.fifo"
"$PREFIX/bin/esdb-devnode" --db "$WORK/node/devnode.db" --http-port 0 "${grpc_flags[@]}" \
  --sink-files-root "$WORK" \
  >"$WORK/node.fifo" 2>&1 &
NODE_PID=$!
exec 3<"$WORK/node.fifo"
URL=
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && IFS= read -r -t $((deadline - SECONDS)) line <&3; do
  printf '%s\n' "$line" >>"$NODE_OUT"
  case $line in
    "listening on http://"*) URL=${line#listening on }; break ;;
  esac
done
[ -n "$URL" ] || fail "the dev node did not say 'listening on http://...' within 60 s"
# Keep draining its output so that it never blocks on a full pipe.
cat <&3 >>"$NODE_OUT" &
DRAIN_PID=$!
exec 3<&-
grep -qF "connectors library $PREFIX/bin/../lib/libesdb_connectors.so" "$NODE_OUT" ||
  fail "the installed dev node did not load the installed library by default"

# http METHOD PATH [BODY]: prints the body, then the status code on a line of its own.
http() {
  local args=(-sS -X "$1" -w '\n%{http_code}' "$URL$2")
  if [ $# -ge 3 ]; then args+=(-H 'Content-Type: application/json' -d "$3"); fi
  curl "${args[@]}"
}
expect() {  # expect STATUS METHOD PATH [BODY]: prints the body
  local want=$1 out code
  shift
  out=$(http "$@") || fail "curl $1 $2 failed"
  code=${out##*$'\n'}
  [ "$code" = "$want" ] || fail "$1 $2: want $want, got $code: ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}
append() {  # append STREAM TYPE
  local out
  out=$(curl -sS -w '\n%{http_code}' -X POST "$URL/streams/$1" \
        -H 'Content-Type: application/vnd.eventstore.events+json' \
        -d "[{\"eventId\":\"$(cat /proc/sys/kernel/random/uuid)\",\"eventType\":\"$2\",
              \"data\":{}}]")
  case ${out##*$'\n'} in 2??) ;; *) fail "append to $1: $out" ;; esac
}

step "create audit-sink connectors at $URL"
plugins=$(expect 200 GET /connector-plugins)
for p in audit-sink null-sink file-sink; do
  grep -qF "\"name\":\"$p\"" <<<"$plugins" || fail "plugin $p not loaded: $plugins"
done
filter='"subscription:filter:scope":"stream","subscription:filter:filterType":"prefix",
        "subscription:filter:expression":"order-","subscription:initialPosition":"earliest"'
expect 201 POST /connectors/audit-plain "{\"settings\":{\"instanceTypeName\":\"audit-sink\",
  \"path\":\"$WORK/plain.txt\",\"prefix\":\"dev \",$filter}}" >/dev/null
expect 201 POST /connectors/audit-salted "{\"settings\":{\"instanceTypeName\":\"audit-sink\",
  \"path\":\"$WORK/salted.txt\",\"streamSalt\":\"pepper-8731\",\"fsync\":\"true\",$filter}}" \
  >/dev/null
# The example's validate runs inside the installed host.
bad=$(expect 400 POST /connectors/audit-bad \
      '{"settings":{"instanceTypeName":"audit-sink","path":"bad.txt","prefix":"0123456789012345678901234567890123456789"}}')
grep -qF "at most 32 bytes" <<<"$bad" || fail "long prefix refused for the wrong reason: $bad"
# The host's file root is checked before the plugin sees the path.
bad=$(expect 400 POST /connectors/audit-bad \
      '{"settings":{"instanceTypeName":"audit-sink","path":"/etc/audit.txt"}}')
grep -qF "outside the sink file root" <<<"$bad" || fail "path outside the root: $bad"
settings=$(expect 200 GET /connectors/audit-salted/settings)
grep -qF '******' <<<"$settings" || fail "the secret streamSalt is not masked: $settings"
if grep -qF 'pepper-8731' <<<"$settings"; then fail "the secret leaked: $settings"; fi
expect 200 POST /connectors/audit-plain/enable >/dev/null
expect 200 POST /connectors/audit-salted/enable >/dev/null

step "append events and wait for the example sink's lines"
append order-1 OrderPlaced
append user-7 UserRegistered  # filtered out by the connectors
append order-1 OrderPaid
append order-2 OrderPlaced
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# Delivery is asynchronous and its completion is only visible as file content: poll with a deadline.
deadline=$((SECONDS + 60))
until [ "$(lines "$WORK/plain.txt")" -ge 3 ] && [ "$(lines "$WORK/salted.txt")" -ge 3 ]; do
  [ $SECONDS -lt $deadline ] || fail "no delivery within 60 s (plain: $(lines "$WORK/plain.txt"),
    salted: $(lines "$WORK/salted.txt") lines); status: $(http GET /connectors/audit-plain)"
  kill -0 "$NODE_PID" 2>/dev/null || fail "the dev node died"
  sleep 0.1
done

step "check the lines"
want=$'dev order-1@0 OrderPlaced\ndev order-1@1 OrderPaid\ndev order-2@0 OrderPlaced'
got=$(awk '{print $1, $2, $4}' "$WORK/plain.txt")
[ "$got" = "$want" ] || fail "plain.txt: want
$want
got
$(cat "$WORK/plain.txt")"
awk 'NF != 4 || $3 !~ /^[0-9]+$/ || $3 + 0 <= last { exit 1 } { last = $3 + 0 }' \
  "$WORK/plain.txt" || fail "positions are not increasing numbers: $(cat "$WORK/plain.txt")"
salted=$(cat "$WORK/salted.txt")
[ "$(wc -l <<<"$salted")" = 3 ] || fail "salted.txt: want 3 lines, got: $salted"
if grep -q 'order-' <<<"$salted"; then fail "salted.txt shows stream ids: $salted"; fi
mapfile -t ids < <(awk '{print $1}' <<<"$salted")
for id in "${ids[@]}"; do
  [[ $id =~ ^#[0-9a-f]{16}@[01]$ ]] || fail "salted.txt: bad stream field '$id': $salted"
done
[ "${ids[0]%@*}" = "${ids[1]%@*}" ] || fail "one stream, two hashes: $salted"
[ "${ids[0]%@*}" != "${ids[2]%@*}" ] || fail "two streams, one hash: $salted"
# Both connectors read the same events: same revisions, positions and types.
[ "$(awk '{sub(/^[^@]*@/, "", $2); print $2, $3, $4}' "$WORK/plain.txt")" = \
  "$(awk '{sub(/^[^@]*@/, "", $1); print $1, $2, $3}' <<<"$salted")" ] ||
  fail "plain and salted lines disagree: $(cat "$WORK/plain.txt") / $salted"

step "stop the dev node"
kill -TERM "$NODE_PID"
status=0
wait "$NODE_PID" || status=$?
NODE_PID=
[ "$status" = 0 ] || fail "the dev node exited with $status on SIGTERM"
wait "$DRAIN_PID" || true
DRAIN_PID=
# The prefix holds a copy of the library and plugins with debug info: hundreds of MB.
if [ -z "${ESDB_SDK_TEST_KEEP:-}" ]; then rm -rf "$WORK"; fi
step "ok"
