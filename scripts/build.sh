#!/usr/bin/env bash
# Configures and builds cycas. Usage: scripts/build.sh [release|debug|asan] [extra cmake args...]
#   release -> build/        (default)
#   debug   -> build-debug/
#   asan    -> build-asan/   (AddressSanitizer + UndefinedBehaviorSanitizer, debug info)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-release}"
shift || true
case "$mode" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug)   dir=build-debug; args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan)    dir=build-asan; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCYCAS_SANITIZE=ON -DCYCAS_BENCH=OFF) ;;
  *) echo "usage: $0 [release|debug|asan] [cmake args...]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${args[@]}" "$@" >/dev/null
# Two cores and a big gRPC build: keep parallelism to the core count.
ninja -C "$dir" -j "$(nproc)"
echo "built $mode in $dir/"
