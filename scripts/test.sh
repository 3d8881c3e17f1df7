#!/usr/bin/env bash
# Installs dependencies, builds cycas with warnings as errors, and runs every
# test: all ctest suites on the Release build, then the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, then a short fuzzing pass.
# This is exactly what CI runs (.ci/run).
#   CYCAS_SKIP_DEPS=1   skip the apt-get step (dependencies already installed)
#   CYCAS_FUZZ_SECONDS  seconds per fuzz target (default 20; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ "${CYCAS_SKIP_DEPS:-0}" != "1" ]; then
  bash scripts/install-deps.sh
fi

echo "== Release build (-Werror)"
bash scripts/build.sh release -DCYCAS_WERROR=ON
echo "== All tests (Release)"
(cd build && ctest --output-on-failure --timeout 600 -j "$(nproc)")

echo "== Unit tests under ASan + UBSan"
bash scripts/build.sh asan -DCYCAS_WERROR=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --timeout 900 -L unit -j "$(nproc)")

fuzz_seconds="${CYCAS_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != "0" ] && [ -x scripts/fuzz.sh ]; then
  echo "== Fuzzing, ${fuzz_seconds}s per target"
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
echo "== All tests passed in $(( $(date +%s) - start ))s"
