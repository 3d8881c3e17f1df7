#!/usr/bin/env bash
# Side-by-side benchmark of cycas against its peers and against the machine's
# own limits, all measured in one run on loopback. See bench/README.md.
#
#   bench/compare.sh [--quick] [--runs N] [--seconds S] [--build DIR] [--work DIR] [--out FILE]
#                    [--cycas-set KEY=VALUE]...   (extra cycasd options, e.g. engine.durability=relaxed)
#
# 1. Machine limits: sequential O_DIRECT write/read of the disk holding the
#    stores (fio), loopback TCP (iperf3), SHA-256/BLAKE3 speed (digest_bench).
# 2. Systems, each started fresh per run: cycasd (zako and REAPI driven by
#    cycas-load, HTTP by wrk), nginx as a WebDAV cache (wrk), Apache Traffic
#    Server as a caching reverse proxy in front of an nginx origin (wrk).
# 3. Workloads: 4 KiB upload / download hits / existence checks, 64 MiB both
#    ways, a mixed build-like load, and 4 KiB hits from a working set larger
#    than the RAM tier. Results go to bench/results/<date>.md and stdout.
# Every server listens on 127.0.0.1 only; every phase is bounded in time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/bench/compare
BUILD=$ROOT/build
RUNS=3
SECS=6
QUICK=0
WORK=""
OUT=""
CYCAS_SETS=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; RUNS=1; SECS=3 ;;
    --runs) RUNS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --work) WORK=$2; shift ;;
    --out) OUT=$2; shift ;;
    --cycas-set) CYCAS_SETS+=(--set "$2"); shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $RUNS$SECS in *[!0-9]*) echo "compare.sh: --runs and --seconds take whole numbers" >&2; exit 2 ;; esac

for tool in wrk nginx traffic_server fio iperf3 python3 curl cmake ninja; do
  if ! command -v $tool >/dev/null; then
    echo "compare.sh: '$tool' is missing; run: bash scripts/install-deps.sh" >&2
    exit 2
  fi
done

# --- build what the harness runs (incremental; -j2: the machine has 2 cores)
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$BUILD" -j2 cycasd cycas-load digest_bench >/dev/null
CYCASD=$BUILD/src/server/cycasd
LOAD=$BUILD/bench/grpc_load/cycas-load
DIGEST_BENCH=$BUILD/bench/digest/digest_bench

# The work directory holds every store, so fio measures the disk they use.
WORK=${WORK:-$BUILD/compare-work}
rm -rf "$WORK"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
LOGS=$WORK/logs
mkdir -p "$LOGS"

# Ports: one block of loopback ports for every server of the run.
P_GRPC=18701 P_TRANSPORT=18702 P_HTTP=18703 P_NGINX=18710 P_ATS=18720 P_ORIGIN=18721 P_IPERF=18730

# Workload sizes.
HOT=4096              # 4 KiB blobs read by the hit and existence phases (16 MiB)
PUTCAP=150000         # new 4 KiB blobs prepared for one upload phase
MIXCAP=20000          # new 4 KiB blobs prepared for one mixed phase
DISK=24576            # 4 KiB working set of the disk phase (96 MiB)
DISK_RAM=16MiB        # RAM tier (cycas) and RAM cache (ATS) of the disk phase
LARGE_HOT=4 LARGE_NEW=96
MID_HOT=8 MID_NEW=64  # 4 MiB blobs of the mixed workload
C_SMALL=32 C_LARGE=4 C_EXISTS=4
if [ $QUICK = 1 ]; then PUTCAP=80000; DISK=16384; LARGE_NEW=48; fi

ATS_USER=""
if [ "$(id -u)" = 0 ]; then ATS_USER=nobody; fi

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# CPU seconds used so far by a process and its descendants (for server CPU).
CLK_TCK=$(getconf CLK_TCK)
cpu_seconds() {
  local pids=("$@") all=() p ticks=0
  while [ ${#pids[@]} -gt 0 ]; do
    p=${pids[0]}
    pids=("${pids[@]:1}")
    all+=("$p")
    mapfile -t -O ${#pids[@]} pids < <(pgrep -P "$p" || true)
  done
  for p in "${all[@]}"; do
    if [ -r /proc/$p/stat ]; then
      ticks=$((ticks + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0)))
    fi
  done
  echo "scale=3; $ticks / $CLK_TCK" | bc
}

wait_http() {  # $1 url, $2 what
  for _ in $(seq 200); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  echo "compare.sh: $2 did not start" >&2
  return 1
}

# ---------------------------------------------------------------- servers
CYCAS_PID=""
start_cycas() {  # $1 RAM tier size
  rm -rf "$WORK/cycas"
  mkdir -p "$WORK/cycas"
  "$CYCASD" --set server.data_dir="$WORK/cycas" --set server.listen=127.0.0.1:$P_GRPC \
    --set zako.transport_listen=127.0.0.1:$P_TRANSPORT --set http.listen=127.0.0.1:$P_HTTP \
    --set engine.size=4GiB --set cas.ram_capacity="$1" --set log.level=warn "${CYCAS_SETS[@]}" \
    >>"$LOGS/cycasd.log" 2>&1 &
  CYCAS_PID=$!
  PIDS+=("$CYCAS_PID")
  wait_http "http://127.0.0.1:$P_HTTP/metrics" cycasd
}
stop_cycas() { kill "$CYCAS_PID"; wait "$CYCAS_PID" || true; }

# nginx as a WebDAV cache (the classic Bazel HTTP cache); $1 name, $2 port.
NGINX_PID=""
start_nginx() {
  local d=$WORK/$1
  rm -rf "$d"
  mkdir -p "$d/root/cas" "$d/tmp" "$d/logs"
  local user_line=""
  if [ "$(id -u)" = 0 ]; then user_line="user root;"; fi
  cat >"$d/nginx.conf" <<CONF
$user_line
worker_processes 2;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/tmp;
  client_max_body_size 0;
  sendfile on;
  server {
    listen 127.0.0.1:$2;
    root $d/root;
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
CONF
  nginx -c "$d/nginx.conf" -p "$d" 2>>"$LOGS/nginx.log" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_http "http://127.0.0.1:$2/" "nginx ($1)"
}

ATS_PID=""
start_ats() {  # $1 RAM cache bytes
  rm -rf "$WORK/ats"
  bash "$HERE/ats.sh" "$WORK/ats" $P_ATS $P_ORIGIN 4G "$1" $ATS_USER &
  ATS_PID=$!
  PIDS+=("$ATS_PID")
  # A cache miss on a path the origin lacks returns 404 once ATS is up.
  for _ in $(seq 300); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_ATS/cas/none")" = 404 ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "compare.sh: traffic_server did not start; see $WORK/ats/log" >&2
  return 1
}
stop_ats() { kill "$ATS_PID"; wait "$ATS_PID" || true; }

# ---------------------------------------------------------------- measuring
# record ROW SYSTEM RUN KIND FILE SERVER_CPU_S [EXTRA_JSON]
record() {
  python3 "$HERE/report.py" record --results "$RESULTS" --row "$1" --system "$2" --run "$3" \
    --kind "$4" --file "$5" --server-cpu "$6" ${7:+--extra "$7"}
}

# wrk_phase ROW SYSTEM RUN PORT CONNS [VAR=VALUE...]: one measured wrk run.
wrk_phase() {
  local row=$1 system=$2 run=$3 port=$4 conns=$5
  shift 5
  local threads=2 out=$LOGS/wrk-$row-$system-$run.out
  local c0 c1
  c0=$(cpu_seconds $SERVER_PID)
  { TIMEFORMAT='CLIENTTIME %R %U %S'; time env BENCH_THREADS=$threads BENCH_PREFIX=/cas/ "$@" \
      wrk -t$threads -c"$conns" -d"${SECS}s" --timeout 60s -s "$HERE/cas.lua" \
      "http://127.0.0.1:$port" >"$out" 2>&1; } 2>>"$out"
  c1=$(cpu_seconds $SERVER_PID)
  record "$row" "$system" "$run" wrk "$out" "$(echo "$c1 - $c0" | bc)"
}

# grpc_phase ROW SYSTEM RUN API OP [cycas-load options...]
grpc_phase() {
  local row=$1 system=$2 run=$3 api=$4 op=$5
  shift 5
  local out=$LOGS/grpc-$row-$system-$run.out
  # Server CPU covers the whole invocation, preload included, so it is
  # reported from cycas-load's measured seconds only when no preload ran.
  "$LOAD" --api "$api" --op "$op" --duration "$SECS" --seed "$run" "$@" \
    --server 127.0.0.1:$P_GRPC >"$out" 2>"$out.err" &
  local lp=$! c0 c1
  # Sample server CPU only over the measured phase: cycas-load prints
  # "measuring" on stderr when its preload is done.
  for _ in $(seq 6000); do
    if grep -q measuring "$out.err" 2>/dev/null || ! kill -0 $lp 2>/dev/null; then break; fi
    sleep 0.05
  done
  c0=$(cpu_seconds $SERVER_PID)
  if ! wait $lp; then
    echo "compare.sh: cycas-load $api $op failed:" >&2
    cat "$out.err" >&2
    exit 1
  fi
  c1=$(cpu_seconds $SERVER_PID)
  record "$row" "$system" "$run" grpc "$out" "$(echo "$c1 - $c0" | bc)"
}

preload() {  # PORT SET_DIR FIRST COUNT METHOD
  python3 "$HERE/preload.py" "127.0.0.1:$1" /cas/ "$2" "$3" "$4" "$5" 8
}

# The HTTP workloads shared by cycas, nginx and ATS. $1 system, $2 run,
# $3 port, $4 write method (PUT, or GET through a proxy).
http_workloads() {
  local sys=$1 run=$2 port=$3 wm=$4
  local S=$WORK/sets
  wrk_phase get4k "$sys" "$run" "$port" $C_SMALL BENCH_MODE=get BENCH_SMALL=$S/small BENCH_HOT=$HOT
  wrk_phase exists "$sys" "$run" "$port" $C_SMALL BENCH_MODE=exists BENCH_SMALL=$S/small BENCH_HOT=$HOT
  if [ "$wm" = PUT ]; then
    wrk_phase put4k "$sys" "$run" "$port" $C_SMALL BENCH_MODE=put BENCH_SMALL=$S/small BENCH_HOT=$HOT
    wrk_phase put64m "$sys" "$run" "$port" $C_LARGE BENCH_MODE=put BENCH_SMALL=$S/large BENCH_HOT=$LARGE_HOT
  fi
  wrk_phase get64m "$sys" "$run" "$port" $C_LARGE BENCH_MODE=get BENCH_SMALL=$S/large BENCH_HOT=$LARGE_HOT
  wrk_phase mixed "$sys" "$run" "$port" $C_SMALL BENCH_MODE=mixed BENCH_SMALL=$S/mixsmall \
    BENCH_HOT=$HOT BENCH_LARGE=$S/mid BENCH_LARGE_HOT=$MID_HOT BENCH_WRITE_METHOD="$wm"
}

grpc_workloads() {  # $1 api, $2 run
  local api=$1 run=$2 sys=cycas-$1
  grpc_phase exists "$sys" "$run" "$api" exists --digests 10000 --set 10000 --concurrency $C_EXISTS
  grpc_phase put4k "$sys" "$run" "$api" upload --size 4KiB --new $PUTCAP --concurrency $C_SMALL
  grpc_phase get4k "$sys" "$run" "$api" download --size 4KiB --set $HOT --concurrency $C_SMALL
  grpc_phase put64m "$sys" "$run" "$api" upload --size 64MiB --new $LARGE_NEW --concurrency $C_LARGE
  grpc_phase get64m "$sys" "$run" "$api" download --size 64MiB --set $LARGE_HOT --concurrency $C_LARGE
  grpc_phase mixed "$sys" "$run" "$api" mixed --size 4KiB --set $HOT --new $MIXCAP \
    --large-size 4MiB --large-set $MID_HOT --concurrency $C_SMALL
}

# ---------------------------------------------------------------- 0. context
START=$(date -u +%s)
DATE=$(date -u +%Y-%m-%d)
log "cycas compare: $RUNS run(s) of ${SECS}s phases; work dir $WORK"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cores=$(nproc)"
  echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "kernel=$(uname -r)"
  echo "disk=$(df -h "$WORK" | awk 'NR==2 {print $1 " (" $2 ")"}')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nginx=$(nginx -v 2>&1 | sed 's/.*: //')"
  echo "trafficserver=$(traffic_server --version 2>/dev/null | awk '/Apache Traffic Server/ {print $NF; exit}' || true)"
  echo "trafficserver_version=$(traffic_server -V 2>&1 | grep -m1 -o 'Traffic Server [0-9.]*' || true)"
  echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "runs=$RUNS"
  echo "seconds=$SECS"
  echo "quick=$QUICK"
} >"$WORK/context"

# ---------------------------------------------------------------- 1. limits
log "machine limits: fio (O_DIRECT, 1 MiB sequential), iperf3 (loopback), digest_bench"
FIO_SIZE=2G
if [ $QUICK = 1 ]; then FIO_SIZE=1G; fi
for rw in write read; do
  fio --name=seq$rw --filename="$WORK/fio.dat" --rw=$rw --bs=1M --size=$FIO_SIZE --direct=1 \
    --ioengine=libaio --iodepth=32 --runtime=10 --output-format=json >"$WORK/fio-$rw.json"
done
rm -f "$WORK/fio.dat"
iperf3 -s -1 -B 127.0.0.1 -p $P_IPERF >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
iperf3 -c 127.0.0.1 -p $P_IPERF -t 5 -J >"$WORK/iperf3.json"
wait $IPERF_PID || true
"$DIGEST_BENCH" --benchmark_filter='BM_HashOf' --benchmark_format=json \
  --benchmark_min_time=0.3 >"$WORK/digest.json" 2>/dev/null
python3 "$HERE/report.py" limits --work "$WORK"

# ---------------------------------------------------------------- 2. blob sets
log "generating blob sets (named by SHA-256)"
S=$WORK/sets
"$LOAD" gen --size 4KiB --count $((HOT + PUTCAP > DISK ? HOT + PUTCAP : DISK)) --seed 11 --out "$S/small"
"$LOAD" gen --size 4KiB --count $((HOT + MIXCAP)) --seed 12 --out "$S/mixsmall"
"$LOAD" gen --size 64MiB --count $((LARGE_HOT + LARGE_NEW)) --seed 13 --out "$S/large"
"$LOAD" gen --size 4MiB --count $((MID_HOT + MID_NEW)) --seed 14 --out "$S/mid"

# ---------------------------------------------------------------- 3. runs
for run in $(seq "$RUNS"); do
  log "run $run/$RUNS: cycas (zako, REAPI, HTTP)"
  start_cycas 256MiB
  SERVER_PID=$CYCAS_PID
  grpc_workloads zako "$run"
  grpc_workloads reapi "$run"
  preload $P_HTTP "$S/small" 0 $HOT PUT
  preload $P_HTTP "$S/large" 0 $LARGE_HOT PUT
  preload $P_HTTP "$S/mixsmall" 0 $HOT PUT
  preload $P_HTTP "$S/mid" 0 $MID_HOT PUT
  http_workloads cycas-http "$run" $P_HTTP PUT
  stop_cycas

  log "run $run/$RUNS: cycas, working set larger than a $DISK_RAM RAM tier"
  start_cycas $DISK_RAM
  SERVER_PID=$CYCAS_PID
  grpc_phase disk4k cycas-zako "$run" zako download --size 4KiB --set $DISK --concurrency $C_SMALL
  grpc_phase disk4k cycas-reapi "$run" reapi download --size 4KiB --set $DISK --concurrency $C_SMALL
  preload $P_HTTP "$S/small" 0 $DISK PUT
  wrk_phase disk4k cycas-http "$run" $P_HTTP $C_SMALL BENCH_MODE=get BENCH_SMALL=$S/small BENCH_HOT=$DISK
  stop_cycas

  log "run $run/$RUNS: nginx WebDAV"
  start_nginx nginx $P_NGINX
  SERVER_PID=$NGINX_PID
  preload $P_NGINX "$S/small" 0 $HOT PUT
  preload $P_NGINX "$S/large" 0 $LARGE_HOT PUT
  preload $P_NGINX "$S/mixsmall" 0 $HOT PUT
  preload $P_NGINX "$S/mid" 0 $MID_HOT PUT
  http_workloads nginx "$run" $P_NGINX PUT
  preload $P_NGINX "$S/small" 0 $DISK PUT
  wrk_phase disk4k nginx "$run" $P_NGINX $C_SMALL BENCH_MODE=get BENCH_SMALL=$S/small BENCH_HOT=$DISK
  kill "$NGINX_PID"; wait "$NGINX_PID" || true

  log "run $run/$RUNS: Apache Traffic Server in front of an nginx origin"
  start_nginx origin $P_ORIGIN
  ORIGIN_PID=$NGINX_PID
  # The origin holds everything ATS will be asked for, the mixed workload's
  # "writes" (cache misses filled from the origin) included.
  preload $P_ORIGIN "$S/small" 0 $DISK PUT
  preload $P_ORIGIN "$S/large" 0 $LARGE_HOT PUT
  preload $P_ORIGIN "$S/mixsmall" 0 $((HOT + MIXCAP)) PUT
  preload $P_ORIGIN "$S/mid" 0 $((MID_HOT + MID_NEW)) PUT
  start_ats 268435456
  SERVER_PID=$ATS_PID
  preload $P_ATS "$S/small" 0 $HOT GET
  preload $P_ATS "$S/large" 0 $LARGE_HOT GET
  preload $P_ATS "$S/mixsmall" 0 $HOT GET
  preload $P_ATS "$S/mid" 0 $MID_HOT GET
  http_workloads ats "$run" $P_ATS GET
  stop_ats
  start_ats 16777216
  SERVER_PID=$ATS_PID
  preload $P_ATS "$S/small" 0 $DISK GET
  wrk_phase disk4k ats "$run" $P_ATS $C_SMALL BENCH_MODE=get BENCH_SMALL=$S/small BENCH_HOT=$DISK
  stop_ats
  kill "$ORIGIN_PID"; wait "$ORIGIN_PID" || true
done

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/context"
echo "elapsed_s=$(($(date -u +%s) - START))" >>"$WORK/context"
OUT=${OUT:-$ROOT/bench/results/$DATE$([ $QUICK = 1 ] && echo -quick).md}
mkdir -p "$(dirname "$OUT")"
python3 "$HERE/report.py" table --work "$WORK" --out "$OUT"
cat "$OUT"
log "written to $OUT"
