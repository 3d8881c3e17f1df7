#!/usr/bin/env bash
# ceph-rgw.sh: a throwaway single-host Ceph cluster with an S3 gateway on loopback.
#
# Brings up one monitor, one memstore OSD and one RADOS Gateway (radosgw, the
# S3 API) with every path under DIR — nothing in /etc/ceph or /var/lib/ceph —
# for the S3 tier's integration tests and benchmark. Needs Debian's packages
# ceph-mon ceph-osd radosgw ceph-common (see scripts/install-deps.sh).
#
#   ceph-rgw.sh start DIR [--port N] [--bucket NAME] [--timeout SECONDS]
#       Bootstraps the cluster, creates an S3 user and (optionally) a bucket,
#       and writes DIR/env with S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
#       S3_REGION, S3_BUCKET, CEPH_CONF for tests to source. Fails (and tears
#       down) if it is not up within the timeout (default 60 s).
#   ceph-rgw.sh stop-gateway DIR    stops radosgw only (the cluster keeps its data)
#   ceph-rgw.sh start-gateway DIR   starts radosgw again on the same port
#   ceph-rgw.sh stop DIR            stops every daemon and removes DIR
#
# Settings that matter (found bringing Ceph 16.2 up this way):
#  * the monitor's paxos proposal and batching delays are lowered, so the
#    cluster is up in seconds instead of ~18 s;
#  * pools get 8 placement groups: the gateway creates ~7 pools and the
#    defaults exceed the per-OSD PG limit on a single OSD;
#  * the beast frontend runs with tcp_nodelay=1 (without it small reads on a
#    reused connection take ~44 ms: Nagle's algorithm against delayed ACKs);
#  * OSDs bind in 6800-7300 by default; the range is narrowed per cluster;
#  * cephx is off inside the cluster (loopback only); S3 requests are still
#    authenticated by the gateway with the user's SigV4 keys.
set -euo pipefail

die() { echo "ceph-rgw.sh: $*" >&2; exit 1; }

# A free TCP port on 127.0.0.1 (best effort: bound and released).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "ceph-rgw.sh: timed out waiting for $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

# retry SECONDS COMMAND...: reruns COMMAND until it succeeds or time runs out.
# Needed because a Ceph client that sends a command before it has received the
# monitor map sends a zero fsid, and the monitor refuses it ("wrong fsid",
# EPERM): a race at every client start, worst while the cluster is young.
retry() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

ceph_cmd() { timeout 20 ceph -c "$DIR/ceph.conf" --connect-timeout 10 "$@"; }

stop_pidfile() {  # stop_pidfile FILE: SIGTERM, then SIGKILL after 5 s
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  rm -f "$f"
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

start_gateway() {
  # shellcheck disable=SC1091
  . "$DIR/ports"
  local limit=${1:-30}
  local deadline=$(( $(date +%s) + limit ))
  # radosgw daemonizes; its start fails outright if one of its start-up pool
  # commands loses the fsid race above, so a failed start is simply retried.
  until radosgw -c "$DIR/ceph.conf" -n client.rgw.gw \
      --rgw-frontends "beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1" \
      --pid-file "$DIR/run/rgw.pid" >>"$DIR/log/rgw.out" 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
  wait_for $(( deadline - $(date +%s) + 1 )) "radosgw on 127.0.0.1:$RGW_PORT" \
    curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"
}

cmd_start() {
  local port="" bucket="" limit=60
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port=$2; shift 2 ;;
      --bucket) bucket=$2; shift 2 ;;
      --timeout) limit=$2; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool; do
    command -v "$b" >/dev/null || die "$b not found: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common"
  done
  mkdir -p "$DIR"/{run,log,mon,osd}
  local started=$(date +%s)
  local mon_port=${CEPH_MON_PORT:-$(free_port)}
  local rgw_port=${port:-$(free_port)}
  # Each cluster gets its own slice of the OSD port range.
  local osd_lo=$(( 6800 + (mon_port % 50) * 10 ))
  printf 'MON_PORT=%s\nRGW_PORT=%s\n' "$mon_port" "$rgw_port" >"$DIR/ports"
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr2 = false
ms bind port min = $osd_lo
ms bind port max = $(( osd_lo + 9 ))
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
keyring = $DIR/keyring
mon data = $DIR/mon/\$id
osd data = $DIR/osd/\$id
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# Lowered proposal/batching delays: the cluster is usable in seconds.
paxos propose interval = 0.01
paxos min wait = 0.001
mon tick interval = 1
osd mon report interval = 1
osd heartbeat grace = 5
debug ms = 0
[mon]
mon cluster log file = $DIR/log/cluster.log
[osd]
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.gw]
rgw data = $DIR/rgw
rgw dns name = localhost
rgw rados pool pg num min = 8
rgw thread pool size = 64
rgw enable usage log = false
rgw lc debug interval = 10
rgw gc processor period = 60
EOF
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$DIR/monmap" >/dev/null
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon -c "$DIR/ceph.conf" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$DIR/ceph.conf" -i a
  wait_for "$limit" "the monitor" ceph_cmd mon stat || die "monitor did not start"

  local uuid id=""
  uuid=$(cat /proc/sys/kernel/random/uuid)
  new_osd() { id=$(ceph_cmd osd new "$uuid" 2>>"$DIR/log/ceph-cli.out") && [ -n "$id" ]; }
  retry "$limit" new_osd || die "the monitor did not accept 'osd new'"
  # The OSD is placed in the CRUSH map here rather than by itself at start
  # (osd crush update on start = false), so its start sends no command that
  # could lose the fsid race.
  retry "$limit" ceph_cmd osd crush add "osd.$id" 1.0 root=default 2>>"$DIR/log/ceph-cli.out" ||
    die "cannot place osd.$id in the CRUSH map"
  mkdir -p "$DIR/osd/$id"
  ceph-osd -c "$DIR/ceph.conf" -i "$id" --mkfs --osd-uuid "$uuid" >>"$DIR/log/osd-mkfs.out" 2>&1
  retry "$limit" ceph-osd -c "$DIR/ceph.conf" -i "$id" >>"$DIR/log/osd.out" 2>&1 || die "ceph-osd did not start"
  wait_for "$limit" "the OSD to come up" \
    bash -c "ceph -c '$DIR/ceph.conf' --connect-timeout 5 osd dump | grep -q '^osd.$id up'" ||
    die "OSD did not come up"

  start_gateway "$limit" || die "radosgw did not start"
  local access secret
  access=cycas$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  retry 30 timeout 30 radosgw-admin -c "$DIR/ceph.conf" user create --uid=cycas \
    --display-name=cycas --access-key="$access" --secret="$secret" >/dev/null 2>>"$DIR/log/ceph-cli.out" ||
    die "cannot create the S3 user"
  local endpoint="http://127.0.0.1:$rgw_port"
  cat >"$DIR/env" <<EOF
S3_ENDPOINT=$endpoint
S3_REGION=us-east-1
S3_ACCESS_KEY=$access
S3_SECRET_KEY=$secret
S3_BUCKET=$bucket
CEPH_CONF=$DIR/ceph.conf
EOF
  if [ -n "$bucket" ]; then
    # Creating the bucket is a signed S3 PUT, which also proves the user works.
    local deadline=$(( $(date +%s) + 30 ))
    until curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$endpoint/$bucket" -o /dev/null; do
      [ "$(date +%s)" -lt "$deadline" ] || die "cannot create bucket $bucket"
      sleep 0.2
    done
  fi
  echo "ceph-rgw.sh: up in $(( $(date +%s) - started )) s: $endpoint (dir $DIR)" >&2
  cat "$DIR/env"
}

cmd_stop() {
  [ -d "$DIR" ] || return 0
  # Throwaway cluster: no graceful shutdown (a memstore OSD would write its
  # whole store out first).
  local f pid
  for f in "$DIR"/run/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  case "$DIR" in
    /|/tmp|/tmp/) die "refusing to remove $DIR" ;;
  esac
  rm -rf "$DIR"
}

[ $# -ge 2 ] || die "usage: $0 start|stop|stop-gateway|start-gateway DIR [options]"
action=$1
DIR=$(realpath -m "$2")
shift 2
case "$action" in
  start)
    # Any failure (set -e) tears the half-started cluster down.
    on_fail() {
      echo "ceph-rgw.sh: startup failed; last log lines:" >&2
      tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.out >&2 || true
      if [ -n "${CEPH_RGW_KEEP_ON_FAILURE:-}" ]; then
        for f in "$DIR"/run/*.pid; do [ -e "$f" ] && stop_pidfile "$f"; done
        echo "ceph-rgw.sh: kept $DIR for inspection" >&2
      else
        cmd_stop
      fi
    }
    trap on_fail EXIT
    cmd_start "$@"
    trap - EXIT ;;
  stop) cmd_stop ;;
  stop-gateway) stop_pidfile "$DIR/run/rgw.pid" ;;
  start-gateway) start_gateway 30 ;;
  *) die "unknown action $action" ;;
esac
