#!/usr/bin/env bash
# bench/portsyncd-scale.sh [BINDIR] - portsyncd at 512 ports (128 four-lane
# ports broken out): cold start to PortInitDone, RSS, and bursts where 256
# ports go down at once and come back (pcd-burst: several netlink sockets at
# once; `ip -batch` is measured beside it), each timed from the kernel's last change to
# the last port in STATE_DB and checked exact against the kernel; then the same
# after restarting portsyncd with a netlink buffer too small for the burst
# (--netlink-rcvbuf 65536: ENOBUFS, re-dump, still exact). Needs root.
#
# Environment: PORTS (512), BURST (256), THREADS (4 netlink sockets), ROUNDS (3),
# SMALL_RCVBUF (65536, the smallest portsyncd accepts; the kernel doubles it),
# NOTIFY (AKE, SONiC's notify-keyspace-events: portsyncd's APPL_DB view on; Kh
# measures the script path alone, as this bench did before the view).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$top/build/bin}" && pwd)
PORTS=${PORTS:-512}
BURST=${BURST:-256}
THREADS=${THREADS:-4}
ROUNDS=${ROUNDS:-3}
SMALL_RCVBUF=${SMALL_RCVBUF:-65536}
NOTIFY=${NOTIFY:-AKE}
for b in portsyncd portsyncd-shmdump pcd-consumer pcd-burst; do
    [ -x "$BIN/$b" ] || { echo "portsyncd-scale.sh: $BIN/$b is missing (build with tests enabled: pcd-consumer lives in tests/)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/pcd-scale.XXXXXX)
NS=pcd-scale-$$
BARE=pcd-scale-bare-$$
SEG=pcd-scale-$$
SOCK=$TMP/redis.sock
pids=()
pcd=
cleanup() {
    for p in "${pids[@]}" $pcd; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$BARE" 2>/dev/null || true
    rm -rf "$TMP" "/dev/shm/$SEG"
}
trap cleanup EXIT
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000 )) | awk '{printf "%.1f", $1 / 1000}'; }

redis-server --port 0 --unixsocket "$SOCK" --dir "$TMP" --save "" --appendonly no \
    --notify-keyspace-events "$NOTIFY" >"$TMP/redis.log" 2>&1 &
redis_pid=$!
pids+=($redis_pid)
for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
for i in $(seq 0 $((PORTS - 1))); do
    echo "HSET PORT|Ethernet$((i * 4)) lanes $((i * 4)) speed 25000 alias etp$((i / 4 + 1))$(printf '%b' "\\x$(printf %x $((97 + i % 4)))")"
done | redis-cli -s "$SOCK" -n 4 >/dev/null
"$BIN/pcd-consumer" --socket "$SOCK" >"$TMP/consumer.log" 2>&1 &
pids+=($!)
ip netns add "$NS"
ip -n "$NS" link set lo up

veths() {
    for i in $(seq 0 $((PORTS - 1))); do
        echo "link add Ethernet$((i * 4)) type veth peer name p$i"
        echo "link set p$i up"
        echo "link set Ethernet$((i * 4)) up"
    done
}
start_portsyncd() { # start_portsyncd LOG [ARGS...]: sets pcd, waits for "ready:"
    local log=$1
    shift
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$SEG" \
        --log-level notice --log-output STDERR "$@" >"$log" 2>&1 &
    pcd=$!
    for _ in $(seq 1000); do grep -q 'ready:' "$log" && return 0; sleep 0.01; done
    echo "portsyncd-scale.sh: portsyncd not ready; its log:" >&2
    tail -n 20 "$log" >&2
    exit 1
}
wait_init() {
    for _ in $(seq 3000); do
        [ "$(redis-cli -s "$SOCK" -n 0 HGET PORT_TABLE:PortInitDone lanes)" = 0 ] && return 0
        sleep 0.01
    done
    echo "portsyncd-scale.sh: PortInitDone not reached" >&2
    exit 1
}
resyncs() {
    "$BIN/portsyncd-shmdump" --name "$SEG" --format prometheus |
        awk '/^portsyncd_netlink_resyncs_total/ { s += $2 } END { print s + 0 }'
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "setup: $PORTS veth ports in a namespace, redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on a unix socket, pcd-consumer as orchagent"
# Cold start: portsyncd first, then the netdevs (in SONiC orchagent creates them
# after consuming PORT_TABLE), created in one `ip -batch`.
t0=$(date +%s%N)
start_portsyncd "$TMP/portsyncd.log"
ready_ms=$(ms_since "$t0")
t1=$(date +%s%N)
veths | ip -n "$NS" -batch -
create_ms=$(ms_since "$t1")
t2=$(date +%s%N)
wait_init
after_ms=$(ms_since "$t2")
init_ms=$(sed -n 's/.*PortInitDone: .*(\([0-9.]*\) ms after start).*/\1/p' "$TMP/portsyncd.log")
echo "cold start: ready (CONFIG_DB copied, link dump applied) ${ready_ms} ms after exec;" \
    "PortInitDone ${init_ms} ms after start, of which creating the $PORTS veth pairs (ip -batch) took ${create_ms} ms;" \
    "PortInitDone seen ${after_ms} ms after the last netdev was created"
sleep 1
echo "rss at $PORTS ports: portsyncd $(awk '/VmRSS/ {print $2}' "/proc/$pcd/status") kB (target <= 3072 kB), redis-server $(awk '/VmRSS/ {print $2}' "/proc/$redis_pid/status") kB"
# Baselines: the same bursts on the same number of veths where nothing listens,
# driven by `ip -batch` (the issue's driver) and by pcd-burst.
ip netns add "$BARE"
veths | ip -n "$BARE" -batch -
ipb=()
for _ in $(seq "$ROUNDS"); do
    for d in down up; do
        sleep 0.3
        t=$(date +%s%N)
        for i in $(seq 0 $((BURST - 1))); do echo "link set Ethernet$((i * 4)) $d"; done | ip -n "$BARE" -batch -
        ipb+=("$d $(ms_since "$t")")
    done
done
med() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
echo "baseline: ip -batch, the kernel alone: median down $(printf '%s\n' "${ipb[@]}" | awk '$1 == "down" {print $2}' | med) ms," \
    "up $(printf '%s\n' "${ipb[@]}" | awk '$1 == "up" {print $2}' | med) ms ($BURST ports, $ROUNDS rounds)"
echo -n "baseline: pcd-burst, "
ip netns exec "$BARE" "$BIN/pcd-burst" --kernel-only --ports "$PORTS" --burst "$BURST" \
    --threads "$THREADS" --rounds "$ROUNDS"
ip netns del "$BARE"

echo
echo "== default netlink buffer (16 MiB asked)"
ip netns exec "$NS" "$BIN/pcd-burst" --socket "$SOCK" --ports "$PORTS" --burst "$BURST" \
    --threads "$THREADS" --pid "$pcd" --redis-pid "$redis_pid" --rounds "$ROUNDS"
echo "netlink resyncs: $(resyncs)"

# Restart portsyncd alone (--old-interfaces off: its netdevs stay up and are handled) with a
# buffer the burst overflows.
kill -TERM "$pcd"
wait "$pcd" 2>/dev/null || true
t0=$(date +%s%N)
start_portsyncd "$TMP/portsyncd-small.log" --netlink-rcvbuf "$SMALL_RCVBUF" --old-interfaces off
echo
echo "== --netlink-rcvbuf $SMALL_RCVBUF (portsyncd restarted: ready $(ms_since "$t0") ms after exec, $PORTS netdevs present)"
r0=$(resyncs)
sleep 1
ip netns exec "$NS" "$BIN/pcd-burst" --socket "$SOCK" --ports "$PORTS" --burst "$BURST" \
    --threads "$THREADS" --pid "$pcd" --redis-pid "$redis_pid" --rounds "$ROUNDS"
n=$(($(resyncs) - r0))
if [ "$n" -gt 0 ]; then
    echo "netlink resyncs during the bursts: $n (ENOBUFS: the buffer overflowed and portsyncd re-dumped)"
else
    echo "netlink resyncs during the bursts: 0 (the buffer did not overflow this time: portsyncd kept up with the kernel)"
fi
grep -c 'ENOBUFS\|resync' "$TMP/portsyncd-small.log" >/dev/null && grep -m2 -i 'resync\|ENOBUFS' "$TMP/portsyncd-small.log" | sed 's/^/  portsyncd: /'
echo "rss after the bursts: portsyncd $(awk '/VmRSS/ {print $2}' "/proc/$pcd/status") kB"
echo
echo "issue 13 figures (ip -batch as the driver): the burst takes the kernel ~40 ms, the last port reaches"
echo "  STATE_DB 57 ms (SONiC) / 61 ms (this portsyncd then) after its start, ~20 ms after the kernel's last change;"
echo "  target: <= 5 ms after the kernel's last change, RSS <= 3 MB at 512 ports"
