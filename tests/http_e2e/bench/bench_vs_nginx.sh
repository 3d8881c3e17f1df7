#!/usr/bin/env bash
# HTTP cache benchmark: cycasd against nginx serving the same blobs as a WebDAV
# cache (dav_methods PUT, the classic Bazel HTTP cache), side by side in one run
# with the same load generator (wrk). Loopback only; every phase is bounded.
#
#   tests/http_e2e/bench/bench_vs_nginx.sh BUILD_DIR [SECONDS]
#
# Prints requests/s and latency for GET hits and PUTs of 4 KiB blobs at 64
# connections, and MB/s for GETs and PUTs of 64 MiB blobs (curl, sequential).
# Needs: wrk, nginx (Debian nginx-light has the DAV module), curl, python3.
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR [SECONDS]}
SECS=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/cycas-http-bench-XXXXXX)
CYCAS_PORT=18481
NGINX_PORT=18482
THREADS=2
CONNS=64
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "# generating blobs"
python3 "$HERE/gen_blobs.py" "$WORK/small" 60000 4096   # PUT phase: new blobs
python3 "$HERE/gen_blobs.py" "$WORK/hot" 5000 4096      # GET phase: uploaded beforehand
python3 "$HERE/gen_blobs.py" "$WORK/large" 3 $((64 << 20))

start_cycas() {  # $1: durability
  rm -rf "$WORK/cycas" && mkdir -p "$WORK/cycas"
  "$BUILD/src/server/cycasd" --set server.data_dir="$WORK/cycas" --set server.listen=127.0.0.1:0 \
    --set zako.transport_listen=127.0.0.1:0 --set http.listen=127.0.0.1:$CYCAS_PORT \
    --set engine.size=4GiB --set engine.durability="$1" --set log.level=warn \
    >"$WORK/cycas.log" 2>&1 &
  CYCAS_PID=$!
  pids+=("$CYCAS_PID")
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$CYCAS_PORT/metrics" && return; sleep 0.1; done
  echo "cycasd did not start"; cat "$WORK/cycas.log"; exit 1
}
stop_cycas() { kill "$CYCAS_PID"; wait "$CYCAS_PID" || true; }

start_nginx() {
  rm -rf "$WORK/nginx" && mkdir -p "$WORK/nginx/root/cas" "$WORK/nginx/tmp" "$WORK/nginx/logs"
  cat >"$WORK/nginx/nginx.conf" <<CONF
user $(id -un);
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/nginx/root;
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
CONF
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
  NGINX_PID=$!
  pids+=("$NGINX_PID")
  sleep 0.5
}

wrk_run() {  # $1 name, $2 url base, $3 lua, $4 data dir
  BENCH_DIR="$4" BENCH_PREFIX="/cas/" BENCH_THREADS=$THREADS \
    wrk -t$THREADS -c$CONNS -d${SECS}s --latency -s "$3" "$2" >"$WORK/wrk.out" 2>&1
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.out")
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $4}' "$WORK/wrk.out")
  printf "%-34s %10s req/s   p99 %8s   non-2xx %s\n" "$1" "$rps" "$p99" "${non2xx:-0}"
}

preload() {  # $1 base url: uploads the hot set
  if ! (cd "$WORK/hot/blobs" && ls | xargs -P 8 -I{} curl -sSf -o /dev/null -T {} "$1/cas/{}"); then
    echo "preloading $1 failed"; exit 1
  fi
}

large_run() {  # $1 name, $2 base url
  local t0 t1 bytes=$((3 * 64))
  t0=$(date +%s.%N)
  for f in "$WORK"/large/blobs/*; do curl -sf -o /dev/null -T "$f" "$2/cas/$(basename "$f")"; done
  t1=$(date +%s.%N)
  printf "%-34s %10.0f MB/s\n" "$1 PUT 64MiB" "$(echo "$bytes * 1.048576 / ($t1 - $t0)" | bc -l)"
  t0=$(date +%s.%N)
  for _ in 1 2; do
    for f in "$WORK"/large/blobs/*; do curl -sf -o /dev/null "$2/cas/$(basename "$f")"; done
  done
  t1=$(date +%s.%N)
  printf "%-34s %10.0f MB/s\n" "$1 GET 64MiB" "$(echo "2 * $bytes * 1.048576 / ($t1 - $t0)" | bc -l)"
}

echo "# $(nproc) cores, $CONNS connections, ${SECS}s per phase"
start_nginx
preload "http://127.0.0.1:$NGINX_PORT"
wrk_run "nginx PUT 4KiB (new blobs)" "http://127.0.0.1:$NGINX_PORT" "$HERE/put.lua" "$WORK/small"
wrk_run "nginx PUT 4KiB (existing)" "http://127.0.0.1:$NGINX_PORT" "$HERE/put.lua" "$WORK/hot"
wrk_run "nginx GET 4KiB (hits)" "http://127.0.0.1:$NGINX_PORT" "$HERE/get.lua" "$WORK/hot"
large_run "nginx" "http://127.0.0.1:$NGINX_PORT"
for mode in durable relaxed; do
  start_cycas "$mode"
  preload "http://127.0.0.1:$CYCAS_PORT"
  wrk_run "cycas/$mode PUT 4KiB (new blobs)" "http://127.0.0.1:$CYCAS_PORT" "$HERE/put.lua" "$WORK/small"
  wrk_run "cycas/$mode PUT 4KiB (existing)" "http://127.0.0.1:$CYCAS_PORT" "$HERE/put.lua" "$WORK/hot"
  wrk_run "cycas/$mode GET 4KiB (hits)" "http://127.0.0.1:$CYCAS_PORT" "$HERE/get.lua" "$WORK/hot"
  large_run "cycas/$mode" "http://127.0.0.1:$CYCAS_PORT"
  stop_cycas
done
