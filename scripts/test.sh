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
# Only the unit-test binaries are built here: the sanitizer pass is about them.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCYCAS_SANITIZE=ON \
  -DCYCAS_BENCH=OFF -DCYCAS_WERROR=ON >/dev/null
ninja -C build-asan -j "$(nproc)" unit_tests
# Leak checking is off: gRPC and protobuf keep process-lifetime allocations that
# LeakSanitizer reports at exit; use-after-free, overflows and UB are still caught.
(cd build-asan && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure --timeout 900 -L unit -j "$(nproc)")

fuzz_seconds="${CYCAS_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != "0" ] && [ -x scripts/fuzz.sh ]; then
  echo "== Fuzzing, ${fuzz_seconds}s per target"
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
echo "== All tests passed in $(( $(date +%s) - start ))s"
