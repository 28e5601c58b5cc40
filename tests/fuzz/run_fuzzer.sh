#!/usr/bin/env bash
# Runs one libFuzzer harness for CTest (label `fuzz`) and for ./dev fuzz.
#
#   run_fuzzer.sh fuzz   <harness> <seconds> <work dir> <seed dir> [libFuzzer flags...]
#   run_fuzzer.sh replay <harness> 0         <work dir> <input files...>
#
# fuzz: mutates from the seeds (read only) and from <work dir>/corpus, where new inputs go, so
# the source tree is never written. ESDB_FUZZ_SECONDS overrides <seconds>. Crashing inputs are
# saved under <work dir>/artifacts/. replay: runs each input once.
# Exits non-zero on any crash, leak, timeout, out-of-memory or sanitizer report, after printing
# the end of libFuzzer's log; always prints one summary line (executions, coverage), also kept
# in <work dir>/<mode>.summary for ./dev to tabulate. libFuzzer ends the run itself; `timeout`
# is only the backstop for a process that stops responding altogether.
set -uo pipefail
mode=$1 harness=$2 seconds=$3 work=$4
shift 4
seconds=${ESDB_FUZZ_SECONDS:-$seconds}
name=$(basename "$harness" _fuzz)
mkdir -p "$work/corpus" "$work/artifacts"
log=$work/$mode.log

# A stack trace for undefined behaviour too; leaks are checked by libFuzzer after each input.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
common=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1
        -artifact_prefix="$work/artifacts/")

case $mode in
  fuzz)
    seeds=$1
    shift
    timeout --kill-after=30 $((seconds + 300)) \
      "$harness" "${common[@]}" -max_total_time="$seconds" "$@" "$work/corpus" "$seeds" \
      >"$log" 2>&1
    status=$?
    ;;
  replay)
    timeout --kill-after=30 300 "$harness" "${common[@]}" "$@" >"$log" 2>&1
    status=$?
    ;;
  *)
    echo "run_fuzzer.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
printf 'fuzz-summary %s mode=%s status=%s execs=%s exec/s=%s cov=%s ft=%s corpus=%s seconds=%s\n' \
  "$name" "$mode" "$status" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
  "$seconds" | tee "$work/$mode.summary"
if [ "$status" -ne 0 ]; then
  echo "---- $name: libFuzzer reported a failure (log: $log) ----"
  tail -n 120 "$log"
  ls "$work/artifacts" 2>/dev/null | sed "s|^|artifact: $work/artifacts/|"
fi
exit "$status"
