#!/usr/bin/env bash
# Starts Apache Traffic Server as a caching reverse proxy on loopback, with its
# own runroot (config, logs, runtime files and cache under DIR), so it needs
# neither root nor the system's /etc/trafficserver. Run as root, it drops to
# the unprivileged user USER first. Prints nothing; traffic_server's output
# goes to DIR/log/.
#
#   bench/compare/ats.sh DIR PORT ORIGIN_PORT CACHE_SIZE RAM_CACHE_BYTES [USER]
#
# Leaves traffic_server running in the foreground of this script (exec), so
# the caller's PID is the server's.
set -euo pipefail
DIR=$1 PORT=$2 ORIGIN=$3 CACHE=$4 RAM=$5 RUN_AS=${6:-}
mkdir -p "$DIR"/{etc,log,run,cache,var}
for f in cache.config hosting.config parent.config plugin.config sni.yaml socks.config \
  splitdns.config ssl_multicert.config strategies.yaml volume.config logging.yaml; do
  cp /etc/trafficserver/$f "$DIR/etc/" 2>/dev/null || : >"$DIR/etc/$f"
done
cp -r /etc/trafficserver/body_factory "$DIR/etc/"
cat >"$DIR/runroot.yaml" <<YAML
prefix: $DIR
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $DIR/etc
datadir: $DIR/var
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $DIR/var
runtimedir: $DIR/run
logdir: $DIR/log
cachedir: $DIR/cache
YAML
# The cache is one file of CACHE; the RAM cache is kept small so that hits
# of a working set larger than it are read from that file.
echo "$DIR/cache $CACHE" >"$DIR/etc/storage.config"
echo "map http://127.0.0.1:$PORT/ http://127.0.0.1:$ORIGIN/" >"$DIR/etc/remap.config"
cat >"$DIR/etc/ip_allow.yaml" <<YAML
ip_allow:
  - apply: in
    ip_addrs: 127.0.0.1
    action: allow
  - apply: out
    ip_addrs: 127.0.0.1
    action: allow
YAML
cat >"$DIR/etc/records.config" <<CONF
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.http.server_ports STRING 127.0.0.1:$PORT
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.http.cache.http INT 1
CONFIG proxy.config.http.cache.required_headers INT 0
CONFIG proxy.config.http.cache.when_to_revalidate INT 3
CONFIG proxy.config.cache.ram_cache.size INT $RAM
CONFIG proxy.config.cache.ram_cache_cutoff INT 4194304
CONFIG proxy.config.cache.max_doc_size INT 0
CONFIG proxy.config.cache.limits.http.max_alts INT 1
CONFIG proxy.config.cache.enable_read_while_writer INT 1
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 2
CONFIG proxy.config.task_threads INT 1
CONFIG proxy.config.log.logging_enabled INT 0
CONFIG proxy.config.crash_log_helper STRING /bin/true
CONFIG proxy.config.diags.debug.enabled INT 0
CONFIG proxy.config.http.insert_response_via_str INT 0
CONFIG proxy.config.http.keep_alive_no_activity_timeout_in INT 120
CONFIG proxy.config.net.connections_throttle INT 10000
CONFIG proxy.config.hostdb.host_file.path STRING /etc/hosts
CONFIG proxy.config.ssl.server.cert.path STRING $DIR/etc
CONFIG proxy.config.ssl.server.private_key.path STRING $DIR/etc
CONFIG proxy.config.ssl.CA.cert.path STRING $DIR/etc
CONF
export TS_RUNROOT=$DIR/runroot.yaml
if [ -n "$RUN_AS" ]; then
  chown -R "$RUN_AS" "$DIR"
  exec setpriv --reuid="$RUN_AS" --regid="$(id -g "$RUN_AS")" --clear-groups \
    env TS_RUNROOT="$TS_RUNROOT" traffic_server --bind_stdout "$DIR/log/out.log" --bind_stderr "$DIR/log/err.log"
fi
exec traffic_server --bind_stdout "$DIR/log/out.log" --bind_stderr "$DIR/log/err.log"
