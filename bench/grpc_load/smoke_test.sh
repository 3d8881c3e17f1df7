#!/usr/bin/env bash
# Self-check of the benchmark harness's load tool (ctest, label e2e): a
# one-second run of every op over each API against a real cycasd on loopback
# must complete operations without error; `gen` must name blobs by their real
# SHA-256; bad arguments must exit 2 naming the flag; an unreachable server
# must exit 1.
#
#   smoke_test.sh CYCASD CYCAS_LOAD
set -euo pipefail
CYCASD=$1 LOAD=$2
WORK=$(mktemp -d /tmp/cycas-load-smoke-XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CYCASD" --set server.data_dir="$WORK/data" --set server.listen=127.0.0.1:0 \
  --set zako.transport_listen=127.0.0.1:0 --set http.listen=127.0.0.1:0 --set engine.size=512MiB \
  --set log.level=warn --set server.ready_file="$WORK/ready" >"$WORK/log" 2>&1 &
PID=$!
for _ in $(seq 200); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
PORT=$(awk '$1 == "grpc" {print $2}' "$WORK/ready")
HTTP_PORT=$(awk '$1 == "http" {print $2}' "$WORK/ready")
[ -n "$PORT" ] && [ -n "$HTTP_PORT" ] || fail "cycasd did not start: $(cat "$WORK/log")"

check() {  # runs cycas-load; items > 0 and no error
  local out
  out=$("$LOAD" --server "127.0.0.1:${CHECK_PORT:-$PORT}" --duration 1 "$@" 2>"$WORK/err") ||
    fail "cycas-load $*: $(cat "$WORK/err")"
  python3 - "$out" "$*" <<'PY' || exit 1
import json, sys
r = json.loads(sys.argv[1])
if r["items"] <= 0 or r["ops_per_s"] <= 0:
    sys.exit(f"FAIL: cycas-load {sys.argv[2]}: no operations completed: {sys.argv[1]}")
print(f"ok  {sys.argv[2]}: {r['items_per_s']:.0f} items/s")
PY
}
for api in zako reapi; do
  check --api $api --op exists --digests 2000 --set 500 --concurrency 2
  check --api $api --op upload --size 4KiB --new 20000 --concurrency 4
  check --api $api --op download --size 4KiB --set 200 --concurrency 4
  check --api $api --op upload --size 2MiB --new 8 --concurrency 2
  check --api $api --op download --size 2MiB --set 2 --concurrency 2
  check --api $api --op mixed --set 200 --new 2000 --large-size 1MiB --large-set 2 --concurrency 4
done
CHECK_PORT=$HTTP_PORT check --api http --op upload --size 2MiB --new 8 --concurrency 2
CHECK_PORT=$HTTP_PORT check --api http --op download --size 2MiB --set 2 --concurrency 2
CHECK_PORT=$HTTP_PORT check --api http --op upload --size 4KiB --new 5000 --concurrency 4

"$LOAD" gen --size 1000 --count 6 --seed 5 --out "$WORK/gen"
python3 - "$WORK/gen" <<'PY' || exit 1
import hashlib, sys
d = sys.argv[1]
p = dict(l.strip().split("=") for l in open(f"{d}/params"))
size, rng, stride = int(p["size"]), int(p["range"]), int(p["stride"])
pool = open(f"{d}/pool", "rb").read()
names = open(f"{d}/names.txt").read().split()
assert len(names) == 6 and len(set(names)) == 6, names
for i, n in enumerate(names):
    off = (i % rng) * stride % rng
    if hashlib.sha256(pool[off:off + size]).hexdigest() != n:
        sys.exit(f"FAIL: gen: blob {i} is not named by its SHA-256")
print("ok  gen names blobs by their SHA-256")
PY

expect_usage() {  # exit status 2 and a message naming $1
  local rc=0
  "$LOAD" "${@:2}" >/dev/null 2>"$WORK/err" || rc=$?
  [ $rc = 2 ] || fail "cycas-load ${*:2}: exit $rc, want 2"
  grep -q -- "$1" "$WORK/err" || fail "cycas-load ${*:2}: message '$(cat "$WORK/err")' does not name $1"
  echo "ok  rejects ${*:2}"
}
expect_usage "--api" --api grpc --op upload
expect_usage "--op" --api zako --op delete
expect_usage "--size" --api zako --op upload --size 12parsecs
expect_usage "--frobnicate" --api zako --op upload --frobnicate 1
expect_usage "--concurrency" --api reapi --op upload --concurrency 0
expect_usage "--api http" --api http --op exists

rc=0
"$LOAD" --api reapi --op exists --server 127.0.0.1:1 --duration 1 >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "unreachable server: exit $rc, want 1"
echo "ok  unreachable server fails"
echo "1 passed, 0 failed"
