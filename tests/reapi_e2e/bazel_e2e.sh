#!/usr/bin/env bash
# Bazel itself as the client of a real cycasd on loopback, over the REAPI
# (gRPC) cache or over the HTTP cache protocol.
#
# A small workspace of genrules (outputs from 0 bytes to tens of MiB,
# compressible and incompressible), a cc_binary and a cc_test is built and
# tested with --remote_cache; then Bazel's
# output base is wiped and the build repeated: every action must be a remote
# cache hit and every output byte-identical (the incompressible outputs come
# from /dev/urandom, so identical bytes prove they came from the cache). The
# same again with --remote_download_minimal and with --remote_instance_name.
#
# In s3 mode two nodes share one bucket of a Ceph RADOS Gateway: Bazel builds
# through node A; once A's write-back queue has drained, a build from a wiped
# output base through node B (which never saw the uploads) is all cache hits.
#
# Usage: bazel_e2e.sh PATH/TO/cycasd [grpc|http|s3]
# Exits 77 (ctest: skipped) when no `bazel` is installed (Debian: bazel-bootstrap).
set -euo pipefail

CYCASD="${1:?usage: bazel_e2e.sh PATH/TO/cycasd [grpc|http|s3]}"
MODE="${2:-grpc}"
case "$MODE" in grpc | http | s3) ;; *) echo "unknown mode $MODE (grpc, http or s3)"; exit 2 ;; esac
if ! command -v bazel >/dev/null 2>&1; then
  echo "bazel not installed (apt-get install bazel-bootstrap); skipping"
  exit 77
fi
if [ "$MODE" = s3 ] && ! command -v radosgw >/dev/null 2>&1; then
  echo "Ceph's radosgw not installed (see scripts/install-deps.sh); skipping"
  exit 77
fi
STEP_TIMEOUT="${CYCAS_BAZEL_STEP_TIMEOUT:-300}"
CEPH_RGW="$(cd "$(dirname "$0")/../.." && pwd)/scripts/ceph-rgw.sh"

WORK="$(mktemp -d /tmp/cycas-bazel-e2e-XXXXXX)"
export HOME="$WORK/home"
mkdir -p "$HOME" "$WORK/ws"
SERVER_PIDS=()
bz() { timeout "$STEP_TIMEOUT" bazel --output_user_root="$WORK/root" "$@"; }
cleanup() {
  (cd "$WORK/ws" && timeout 60 bazel --output_user_root="$WORK/root" shutdown >/dev/null 2>&1) || true
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ ! -d "$WORK/ceph" ] || bash "$CEPH_RGW" stop "$WORK/ceph" >/dev/null 2>&1 || true
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$WORK"/cycasd-*.log; do
    echo "--- $log (tail) ---"
    tail -n 40 "$log" || true
  done
  exit 1
}

# --- the servers ----------------------------------------------------------------
# start_node NAME [--set k=v ...]: starts cycasd with its own data dir; sets
# GRPC_PORT and HTTP_PORT.
start_node() {
  local name="$1"
  shift
  mkdir -p "$WORK/data-$name"
  "$CYCASD" --set server.data_dir="$WORK/data-$name" --set server.listen=127.0.0.1:0 \
    --set http.listen=127.0.0.1:0 --set zako.transport_listen=127.0.0.1:0 \
    --set server.ready_file="$WORK/ready-$name" --set engine.size=512MiB "$@" \
    >"$WORK/cycasd-$name.log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  for _ in $(seq 1 200); do
    [ -s "$WORK/ready-$name" ] && break
    kill -0 "$pid" 2>/dev/null || fail "cycasd $name exited during startup"
    sleep 0.05
  done
  GRPC_PORT="$(awk '$1 == "grpc" { print $2 }' "$WORK/ready-$name")"
  HTTP_PORT="$(awk '$1 == "http" { print $2 }' "$WORK/ready-$name")"
  [ -n "$GRPC_PORT" ] && [ -n "$HTTP_PORT" ] || fail "cycasd $name did not become ready"
  echo "cycasd $name: grpc 127.0.0.1:$GRPC_PORT, http 127.0.0.1:$HTTP_PORT"
}

if [ "$MODE" = s3 ]; then
  # Two nodes with separate local stores in front of one bucket of a real
  # S3 gateway (Ceph RADOS Gateway on loopback).
  bash "$CEPH_RGW" start "$WORK/ceph" --bucket cycas-bazel >"$WORK/ceph.log" 2>&1 ||
    { tail -n 40 "$WORK/ceph.log"; fail "could not start the Ceph gateway"; }
  # shellcheck disable=SC1091
  source "$WORK/ceph/env"
  S3_ARGS=(--set s3.endpoint="$S3_ENDPOINT" --set s3.bucket="$S3_BUCKET" --set s3.region="$S3_REGION"
    --set s3.access_key="$S3_ACCESS_KEY" --set s3.secret_key="$S3_SECRET_KEY")
  start_node a "${S3_ARGS[@]}"
  CACHE_A="--remote_cache=grpc://127.0.0.1:$GRPC_PORT"
  METRICS_A="http://127.0.0.1:$HTTP_PORT/metrics"
  start_node b "${S3_ARGS[@]}"
  CACHE_B="--remote_cache=grpc://127.0.0.1:$GRPC_PORT"
else
  start_node main
  # Bazel's HTTP cache has no instance-name flag: the instance is a path prefix.
  if [ "$MODE" = grpc ]; then
    CACHE="--remote_cache=grpc://127.0.0.1:$GRPC_PORT"
    INSTANCE=(--remote_cache=grpc://127.0.0.1:$GRPC_PORT --remote_instance_name=some/name)
  else
    CACHE="--remote_cache=http://127.0.0.1:$HTTP_PORT"
    INSTANCE=(--remote_cache=http://127.0.0.1:$HTTP_PORT/some/name)
  fi
fi

# --- the workspace --------------------------------------------------------------
cd "$WORK/ws"
# Bazel 4.2.3 fetches rules_cc, rules_java and remote_coverage_tools from the
# internet for cc_* rules and tests; small local stand-ins keep it offline.
cat >WORKSPACE <<'EOF'
workspace(name = "cycas_bazel_e2e")
local_repository(name = "rules_cc", path = "third_party/rules_cc")
local_repository(name = "rules_java", path = "third_party/rules_java")
local_repository(name = "remote_coverage_tools", path = "third_party/remote_coverage_tools")
EOF
stand_in() {  # stand_in REPO PACKAGE RULE...: the native rules under their Starlark names
  local repo="$1" pkg="$2"
  shift 2
  mkdir -p "third_party/$repo/$pkg"
  echo "workspace(name = \"$repo\")" >"third_party/$repo/WORKSPACE"
  touch "third_party/$repo/BUILD" "third_party/$repo/$pkg/BUILD"
  : >"third_party/$repo/$pkg/defs.bzl"
  for rule in "$@"; do
    printf 'def %s(**kwargs):\n    native.%s(**kwargs)\n\n' "$rule" "$rule" >>"third_party/$repo/$pkg/defs.bzl"
  done
}
stand_in rules_cc cc cc_library cc_binary cc_test cc_import cc_proto_library cc_toolchain cc_toolchain_suite
stand_in rules_java java java_binary java_import java_library java_proto_library java_runtime \
  java_toolchain java_test java_plugin java_lite_proto_library java_package_configuration
mkdir -p third_party/remote_coverage_tools
echo 'workspace(name = "remote_coverage_tools")' >third_party/remote_coverage_tools/WORKSPACE
cat >third_party/remote_coverage_tools/BUILD <<'EOF'
package(default_visibility = ["//visibility:public"])
filegroup(name = "coverage_report_generator", srcs = [])
filegroup(name = "lcov_merger", srcs = [])
EOF
printf 'int Answer();\n' >lib.h
printf '#include "lib.h"\nint Answer() { return 42; }\n' >lib.cc
printf '#include <cstdio>\n#include "lib.h"\nint main() { std::printf("%%d\\n", Answer()); }\n' >main.cc
printf '#include "lib.h"\nint main() { return Answer() == 42 ? 0 : 1; }\n' >lib_test.cc
cat >BUILD <<'EOF'
cc_library(name = "lib", srcs = ["lib.cc"], hdrs = ["lib.h"])
cc_binary(name = "hello", srcs = ["main.cc"], deps = [":lib"])
cc_test(name = "lib_test", srcs = ["lib_test.cc"], deps = [":lib"])
genrule(name = "empty", outs = ["empty.out"], cmd = "touch $@")
genrule(name = "tiny", outs = ["tiny.txt"], cmd = "echo hello > $@")
genrule(
    name = "text",
    outs = ["text.txt"],
    cmd = "for i in $$(seq 1 250000); do echo \"line $$i of a compressible output\"; done > $@",
)
genrule(name = "noise_small", outs = ["noise_small.bin"], cmd = "head -c 70000 /dev/urandom > $@")
genrule(name = "noise_large", outs = ["noise_large.bin"], cmd = "head -c 25000000 /dev/urandom > $@")
genrule(
    name = "tree",
    outs = ["tree/a.bin", "tree/sub/b.txt"],
    cmd = "head -c 300000 /dev/urandom > $(location tree/a.bin); date +%s%N > $(location tree/sub/b.txt)",
)
genrule(
    name = "all",
    srcs = [":empty", ":tiny", ":text", ":noise_small", ":noise_large", ":tree"],
    outs = ["all.txt"],
    cmd = "sha256sum $(SRCS) > $@",
)
EOF
OUTS="bazel-bin/empty.out bazel-bin/tiny.txt bazel-bin/text.txt bazel-bin/noise_small.bin \
bazel-bin/noise_large.bin bazel-bin/tree/a.bin bazel-bin/tree/sub/b.txt bazel-bin/all.txt bazel-bin/hello"

# Builds everything and runs the cc_test; prints Bazel's process summary line
# and sets HITS / ACTIONS (actions that are not Bazel-internal).
build() {
  local log="$WORK/build.log"
  if ! bz test "$@" //:all //:hello //:lib_test >"$log" 2>&1; then
    tail -n 40 "$log"
    fail "bazel test $* failed"
  fi
  local line
  line="$(grep -E '^INFO: [0-9]+ processes?:' "$log" | tail -n 1)"
  echo "  $line"
  local total internal
  total="$(echo "$line" | sed -E 's/^INFO: ([0-9]+) process.*/\1/')"
  internal="$(echo "$line" | grep -oE '[0-9]+ internal' | grep -oE '[0-9]+' || echo 0)"
  HITS="$(echo "$line" | grep -oE '[0-9]+ remote cache hit' | grep -oE '^[0-9]+' || echo 0)"
  ACTIONS=$((total - internal))
}
wipe() { bz clean --expunge >/dev/null 2>&1 || fail "bazel clean --expunge failed"; }

if [ "$MODE" = s3 ]; then
  echo "== 1. cold build through node A"
  build "$CACHE_A"
  [ "$ACTIONS" -ge 10 ] || fail "expected at least 10 actions, got $ACTIONS"
  [ "$HITS" -eq 0 ] || fail "cold build had $HITS cache hits"
  # shellcheck disable=SC2086
  sha256sum $OUTS >"$WORK/first.sum"
  echo "== 2. node A's write-back queue drains into the bucket"
  depth=""
  for _ in $(seq 1 600); do
    depth="$(curl -sf "$METRICS_A" | awk '$1 == "cycas_s3_upload_queue_depth" { print $2 }')"
    [ "$depth" = 0 ] && break
    sleep 0.1
  done
  [ "$depth" = 0 ] || fail "node A's upload queue did not drain (depth $depth)"
  echo "== 3. output base wiped, build through node B: every action a remote hit, outputs byte-identical"
  wipe
  build "$CACHE_B"
  [ "$HITS" -eq "$ACTIONS" ] || fail "$HITS of $ACTIONS actions were cache hits through node B"
  sha256sum -c --quiet "$WORK/first.sum" || fail "outputs through node B differ from the first build"
  echo "1 passed, 0 failed"
  exit 0
fi

echo "== 1. cold build, uploading to the cache"
build "$CACHE"
[ "$ACTIONS" -ge 10 ] || fail "expected at least 10 actions, got $ACTIONS"
[ "$HITS" -eq 0 ] || fail "cold build had $HITS cache hits"
# shellcheck disable=SC2086
sha256sum $OUTS >"$WORK/first.sum"

echo "== 2. output base wiped: every action a remote cache hit, outputs byte-identical"
wipe
build "$CACHE"
[ "$HITS" -eq "$ACTIONS" ] || fail "$HITS of $ACTIONS actions were cache hits"
sha256sum -c --quiet "$WORK/first.sum" || fail "outputs differ from the first build"

echo "== 3. --remote_download_minimal: every action a hit, nothing downloaded"
wipe
build "$CACHE" --remote_download_minimal
[ "$HITS" -eq "$ACTIONS" ] || fail "$HITS of $ACTIONS actions were cache hits (minimal)"
[ ! -e bazel-bin/noise_large.bin ] || fail "--remote_download_minimal downloaded an output"

echo "== 4. instance some/name: a separate action cache"
wipe
build "${INSTANCE[@]}"
[ "$HITS" -eq 0 ] || fail "instance some/name saw $HITS hits from the default instance"
wipe
build "${INSTANCE[@]}"
[ "$HITS" -eq "$ACTIONS" ] || fail "$HITS of $ACTIONS actions were cache hits (instance some/name)"

echo "== 5. the default instance still hits after all that"
wipe
build "$CACHE"
[ "$HITS" -eq "$ACTIONS" ] || fail "$HITS of $ACTIONS actions were cache hits (default instance again)"
sha256sum -c --quiet "$WORK/first.sum" || fail "outputs differ from the first build"

echo "1 passed, 0 failed"
