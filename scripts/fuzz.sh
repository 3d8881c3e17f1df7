#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each one (see fuzz/README.md).
#
#   scripts/fuzz.sh [seconds-per-target] [target ...]
#
# seconds-per-target defaults to 60; targets default to all of them. For each
# target it first replays fuzz/regressions/<target>/ (every crash ever found),
# then fuzzes for the given time starting from the checked-in seeds
# (fuzz/corpus/<target>/) plus a working corpus kept in the build dir, and
# prints executions, coverage and findings. Exits non-zero if a regression
# input still crashes or the fuzzer found a crash, leak, timeout or OOM; the
# inputs are left in <build>/fuzz-artifacts/<target>/.
#
# Environment:
#   BUILD_DIR                   build directory (default: <repo>/build-fuzz)
#   FUZZ_ARGS                   extra libFuzzer flags for every target, e.g.
#                               "-fork=2 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1"
#                               to keep going after a finding (long runs)
#   FUZZ_SKIP_REGRESSIONS=1     do not replay fuzz/regressions/
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-60}"
if [[ $# -gt 0 ]]; then shift; fi
all_targets=(fuzz_digest_parse fuzz_config fuzz_engine_recovery fuzz_doc_verify fuzz_credentials_file
  fuzz_resource_name fuzz_find_missing_wire fuzz_write_request_wire fuzz_reapi_services fuzz_zako_services fuzz_http_request)
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=("${all_targets[@]}"); fi
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [seconds-per-target] [target ...]" >&2
  exit 2
fi

# Per-target libFuzzer flags: input size limits that fit each input format.
flags_for() {
  case "$1" in
    fuzz_digest_parse) echo "-max_len=512" ;;
    fuzz_config) echo "-max_len=12288" ;;
    fuzz_engine_recovery) echo "-max_len=1024 -len_control=0" ;;
    fuzz_doc_verify) echo "-max_len=8192" ;;
    fuzz_credentials_file) echo "-max_len=8192" ;;
    fuzz_resource_name) echo "-max_len=4200 -dict=$root/fuzz/dicts/fuzz_resource_name.dict" ;;
    fuzz_find_missing_wire | fuzz_write_request_wire) echo "-max_len=4096" ;;
    fuzz_reapi_services | fuzz_zako_services) echo "-max_len=8192" ;;
    *) echo "" ;;
  esac
}

echo "== configuring $build (clang, CYCAS_FUZZ=ON)"
cmake -S "$root" -B "$build" -G Ninja \
  -DCYCAS_FUZZ=ON -DCYCAS_BENCH=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }
echo "== building ${targets[*]}"
cmake --build "$build" --target "${targets[@]}"

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  seeds="$root/fuzz/corpus/$t"
  if [[ $t == fuzz_http_request ]]; then  # built beside the HTTP parsers it fuzzes
    bin="$build/src/api/http/$t"
    seeds="$root/src/api/http/fuzz_corpus/$t"
  fi
  regressions="$root/fuzz/regressions/$t"
  work="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"

  status="ok"
  if [[ -z "${FUZZ_SKIP_REGRESSIONS:-}" && -d "$regressions" ]]; then
    for input in "$regressions"/*; do
      [[ -f "$input" ]] || continue
      if ! "$bin" -runs=1 "$input" >"$log.regression" 2>&1; then
        echo "!! $t: regression input still fails: ${input#"$root"/}"
        grep -E "^(==[0-9]+==ERROR|SUMMARY|$t:)" "$log.regression" | head -3 | sed 's/^/   /'
        status="REGRESSION"
        failed=1
      fi
    done
  fi

  before="$(find "$artifacts" -type f -printf '%f\n' | sort)"
  echo "== $t: fuzzing for ${seconds}s"
  read -ra flags <<<"$(flags_for "$t") ${FUZZ_ARGS:-}"
  set +e
  "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${flags[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  new="$(comm -13 <(echo "$before") <(find "$artifacts" -type f -printf '%f\n' | sort) | sed '/^$/d')"

  execs="$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)"
  if [[ -z "$execs" ]]; then  # fork mode: "#<execs>: cov: ..."
    execs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
  fi
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)"
  if [[ $rc -ne 0 || -n "$new" ]]; then
    status="FOUND"
    failed=1
    echo "!! $t: exit code $rc; new artifacts in ${artifacts#"$root"/}/:"
    while read -r f; do echo "   $f"; done <<<"$new"
    grep -E "^(==[0-9]+==ERROR|SUMMARY|$t:)|runtime error" "$log" | head -10 | sed 's/^/   /'
  fi
  line="$(printf '%-22s %-10s execs=%-10s %s' "$t" "$status" "${execs:-?}" "${cov:-cov: ?}")"
  echo "   $line   (log: ${log#"$root"/})"
  summary+=("$line")
  rm -f "$log.regression"
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
