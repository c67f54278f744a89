#!/usr/bin/env bash
# The SONiC deployment of deploy/sonic/ without docker: namespaces stand in for
# the two containers.
#   swss:    portsyncd, started with the supervisord entry's command line, in the
#            ports' network namespace and a mount namespace of its own whose /run
#            holds only the host's redis/ (SONiC's /var/run/redis/redis.sock) and
#            portsyncd/ directories, with a private /dev/shm.
#   sidecar: portsyncd-exporter with the sidecar run line's arguments, under
#            unshare --pid --mount --fork --mount-proc, as nobody with only the
#            segment directory's gid, no capabilities, no_new_privs; its /run, /tmp
#            and /dev/shm are empty tmpfs but for the segment directory and the
#            certificates, both bind-mounted read-only.
# Scrapes over mutual TLS succeed and carry portsyncd's live figures, writer_up is
# 1 judged by heartbeat (another PID namespace), killing portsyncd makes /-/ready
# 503 within the max age, and a restarted portsyncd re-attaches (counters go on).
source "$(dirname "$0")/../core/lib.sh" "$1"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
PY=/usr/bin/python3
MAX_AGE=2
MGID=64123
while getent group "$MGID" >/dev/null; do MGID=$((MGID + 1)); done

# The two command lines, as shipped.
mapfile -t PCD_CMD < <($PY -c '
import configparser, shlex, sys
c = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))
c.read(sys.argv[1])
print("\n".join(shlex.split(c["program:portsyncd"]["command"])))' "$DEPLOY/sonic/supervisord-portsyncd.conf")
PCD_CMD[0]=${PCD_CMD[0]/\/usr\/bin/$BIN}
mapfile -t EXP_ARGS < <("$DEPLOY/sonic/run-exporter-sidecar.sh" --print --listen '[::1]:0' --user 65534:65534 \
    --group "$MGID" | sed -n '/^portsyncd-exporter:latest$/,$p' | tail -n +2)
check "the entry's command (${PCD_CMD[*]}) and the sidecar's arguments (${EXP_ARGS[*]})" \
    test ${#PCD_CMD[@]} -gt 1 -a ${#EXP_ARGS[@]} -gt 1

SOCK=$TMP/redis/redis.sock
mkdir -p "$TMP/redis" "$TMP/seg"
chown "0:$MGID" "$TMP/seg"
chmod 2750 "$TMP/seg"
"$DEPLOY/gen-certs.sh" --dir "$TMP/certs" --host localhost --client prometheus --owner nobody --days 2 >/dev/null
start_redis
# The entry's command leaves LOGOUTPUT to CONFIG_DB (SONiC's default: SYSLOG);
# this stand-in has no syslog, so the entry says STDERR, as
# `swssloglevel`'s LOGGER table would, and the log file below gets the lines.
redis-cli -s "$SOCK" -n 4 HSET 'LOGGER|portsyncd' LOGLEVEL NOTICE LOGOUTPUT STDERR >/dev/null
make_ns
seed_ports 0 4 8 12
start_consumer

# start_swss: portsyncd in the swss stand-in; PCD_PID is portsyncd itself.
start_swss() {
    ip netns exec "$NS" unshare --mount --propagation private -- bash -c '
        set -e
        t=$1; shift
        mount -t tmpfs -o mode=755 swss-run /run
        mkdir /run/redis /run/portsyncd
        mount --bind "$t/redis" /run/redis
        mount --bind "$t/seg" /run/portsyncd
        mount -t tmpfs -o mode=1777 swss-shm /dev/shm
        exec "$@"' swss "$TMP" "${PCD_CMD[@]}" >>"$TMP/portsyncd.log" 2>&1 &
    PCD_PID=$!
    wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
}
start_swss
check "portsyncd is ready in the swss stand-in" grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
for n in 0 4 8 12; do add_port "$n"; done
check "PortInitDone" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
check "portsyncd: in the ports' network namespace" test "$(readlink "/proc/$PCD_PID/ns/net")" != "$(readlink /proc/self/ns/net)"
check "portsyncd: in a mount namespace of its own" test "$(readlink "/proc/$PCD_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)"
expect_eq "the segment in the shared directory: root, its group, 0640" "0:$MGID:640" \
    "$(stat -c %u:%g:%a "$TMP/seg/metrics" 2>/dev/null)"

# The sidecar stand-in. The certificates are at /run/certs (docker mounts them at
# /etc/portsyncd/metrics; a mount namespace cannot add that directory to the
# host's /etc without creating it there).
PORTSYNCD_METRICS_CERT=/run/certs/server.crt PORTSYNCD_METRICS_KEY=/run/certs/server.key \
    PORTSYNCD_METRICS_CA=/run/certs/ca.crt \
    unshare --pid --mount --fork --mount-proc --propagation private --kill-child=SIGTERM -- bash -c '
        set -e
        t=$1 gid=$2 bin=$3; shift 3
        mount -t tmpfs -o mode=755 sidecar-run /run
        mkdir /run/portsyncd /run/certs /run/bin
        # The build may live under /tmp, which the sidecar gets empty: its binary
        # comes in read-only, as the image would hold it.
        mount -n --bind "$bin" /run/bin
        mount -n -o remount,bind,ro /run/bin
        mount -n --bind "$t/seg" /run/portsyncd
        mount -n -o remount,bind,ro /run/portsyncd
        mount -n --bind "$t/certs" /run/certs
        mount -n -o remount,bind,ro /run/certs
        mount -n -t tmpfs -o mode=1777 sidecar-tmp /tmp
        mount -n -t tmpfs -o mode=1777 sidecar-shm /dev/shm
        exec setpriv --reuid=65534 --regid=65534 --groups="$gid" --inh-caps=-all --bounding-set=-all \
            --no-new-privs /run/bin/portsyncd-exporter "$@"' sidecar "$TMP" "$MGID" "$BIN" \
    "${EXP_ARGS[@]}" --writer.heartbeat-max-age=${MAX_AGE}s >"$TMP/exporter.log" 2>&1 &
UNSHARE_PID=$!
PIDS+=("$UNSHARE_PID")
wait_for 10 grep -q 'listening on' "$TMP/exporter.log"
PORT=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\).*/\1/p' "$TMP/exporter.log" | head -n 1)
EXP=$(pgrep -P "$UNSHARE_PID" | head -n 1)
check "the exporter listens (port ${PORT:-none}, pid ${EXP:-none})" test -n "$PORT" -a -n "$EXP"

st() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$EXP/status"; }
expect_eq "exporter: uid nobody" "65534 65534 65534 65534" "$(st Uid | tr -s '\t ' ' ')"
expect_eq "exporter: only the segment directory's gid" "$MGID" "$(st Groups | tr -d ' ')"
expect_eq "exporter: no capabilities" 0000000000000000 "$(st CapEff)"
expect_eq "exporter: no_new_privs" 1 "$(st NoNewPrivs)"
check "exporter: its own PID namespace, not portsyncd's" \
    test "$(readlink "/proc/$EXP/ns/pid")" != "$(readlink "/proc/$PCD_PID/ns/pid")"
expect_eq "exporter: it is pid 1 there" 1 "$(st NSpid | awk '{ print $NF }')"
expect_eq "exporter: /run holds its binary, the segment directory and the certificates, nothing else" \
    "bin certs portsyncd" \
    "$(ls "/proc/$EXP/root/run" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "exporter: empty /dev/shm and /tmp (no other way to the host's files)" "" \
    "$(find "/proc/$EXP/root/dev/shm" "/proc/$EXP/root/tmp" -mindepth 1 | tr '\n' ' ')"
out=$(nsenter -t "$EXP" -m touch /run/portsyncd/planted 2>&1) && rc=0 || rc=$?
check "exporter: the segment directory is read-only in its view, even to root (rc=$rc: $out)" \
    bash -c "[ $rc -ne 0 ] && grep -q 'Read-only file system' <<<'$out'"

C=$TMP/certs
pcurl() { curl -sS --max-time 10 --tlsv1.3 --cacert "$C/ca.crt" --cert "$C/prometheus.crt" --key "$C/prometheus.key" \
    --connect-to "localhost:$PORT:[::1]:$PORT" "https://localhost:$PORT$1"; }
code() { curl -s --max-time 10 --tlsv1.3 --cacert "$C/ca.crt" --cert "$C/prometheus.crt" --key "$C/prometheus.key" \
    --connect-to "localhost:$PORT:[::1]:$PORT" "https://localhost:$PORT$1" -o /dev/null -w '%{http_code}' 2>/dev/null || true; }
code_is() { [ "$(code "$1")" = "$2" ]; }
scraped() { pcurl /metrics 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'; }
scraped_is() { [ "$(scraped "$1")" = "$2" ]; }
check "a scrape over mutual TLS: 200" wait_for 10 code_is /metrics 200
refute_code=$(curl -sS --max-time 5 --cacert "$C/ca.crt" --connect-to "localhost:$PORT:[::1]:$PORT" \
    "https://localhost:$PORT/metrics" -o /dev/null -w '%{http_code}' 2>/dev/null || true)
expect_eq "without a client certificate: refused" 000 "$refute_code"
check "exporter: the segment mapped read-only and shared (r--s /run/portsyncd/metrics)" \
    wait_for 5 grep -q 'r--s .*/run/portsyncd/metrics' "/proc/$EXP/maps"
expect_eq "writer_up" 1 "$(scraped portsyncd_exporter_writer_up)"
expect_eq "liveness judged by heartbeat" 1 "$(scraped 'portsyncd_exporter_writer_liveness_method{method="heartbeat"}')"
expect_eq "/-/ready" 200 "$(code /-/ready)"
expect_eq "portsyncd's figures: port_init_done" 1 "$(scraped portsyncd_port_init_done)"
ip -n "$NS" link set p4 down
check "a flap of Ethernet4 reaches the scrape" wait_for 10 scraped_is 'portsyncd_port_flaps_total{port="Ethernet4"}' 1
check "... and its oper status 0" wait_for 10 scraped_is 'portsyncd_port_oper_status{port="Ethernet4"}' 0

kill -9 "$PCD_PID"
wait "$PCD_PID" 2>/dev/null
t0=$(date +%s%N)
check "portsyncd killed: /-/ready 503 within the max age" wait_for $((MAX_AGE + 3)) code_is /-/ready 503
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check "... after ${ms} ms (max age ${MAX_AGE} s, heartbeat every 100 ms)" test "$ms" -le $((MAX_AGE * 1000 + 500))
reason=$(pcurl /-/ready 2>/dev/null)
check "... judged by heartbeat: '$reason'" grep -q 'heartbeat' <<<"$reason"
expect_eq "writer_up after the kill" 0 "$(scraped portsyncd_exporter_writer_up)"
expect_eq "the last figures are still served" 1 "$(scraped 'portsyncd_port_flaps_total{port="Ethernet4"}')"

# swss restarts portsyncd: it re-attaches to the segment it finds, counters go on.
start_swss
check "portsyncd restarted: /-/ready 200 again" wait_for 10 code_is /-/ready 200
expect_eq "writer_up" 1 "$(scraped portsyncd_exporter_writer_up)"
expect_eq "the flap counted before the restart is still there" 1 "$(scraped 'portsyncd_port_flaps_total{port="Ethernet4"}')"
kill -TERM "$PCD_PID"
wait "$PCD_PID" 2>/dev/null
kill -TERM "$EXP" 2>/dev/null
wait "$UNSHARE_PID" 2>/dev/null
PCD_PID=
finish
