#!/usr/bin/env bash
# bench/portsyncd-bench.sh [BINDIR] - portsyncd measured from the outside, the way
# DESIGN.md measured SONiC's C++ portsyncd: a namespace with 32 veth ports, a
# local redis-server on a unix socket, link changes driven through netlink
# (pcd-bench, not `ip`), STATE_DB watched through keyspace notifications.
# Prints the figures next to SONiC's reference figures. Needs root.
#
# Environment: CHANGE (admin: toggle IFF_UP, as a flap; mtu: 1500<->9100, cheaper
# for the kernel, to find portsyncd's own ceiling), PORTS (32), SAMPLES (2000), RATES ("1000,2000,5000,10000,20000,40000,0"
# where 0 = as fast as one thread can send), SECONDS_PER_RATE (2), SPLIT (0; 1:
# STATE_DB on a second redis-server, through a database_config.json, to measure
# what two servers cost: two round trips per batch instead of one).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$top/build/bin}" && pwd)
PORTS=${PORTS:-32}
SAMPLES=${SAMPLES:-2000}
RATES=${RATES:-1000,2000,5000,10000,20000,40000,0}
SECONDS_PER_RATE=${SECONDS_PER_RATE:-2}
CHANGE=${CHANGE:-admin}
SPLIT=${SPLIT:-0}
for b in portsyncd portsyncd-shmdump pcd-consumer pcd-bench; do
    [ -x "$BIN/$b" ] || { echo "portsyncd-bench.sh: $BIN/$b is missing (build with tests enabled: pcd-consumer lives in tests/)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/pcd-bench.XXXXXX)
NS=pcd-bench-$$
SEG=pcd-bench-$$
SOCK=$TMP/redis.sock
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP" "/dev/shm/$SEG"
}
trap cleanup EXIT

redis-server --port 0 --unixsocket "$SOCK" --dir "$TMP" --save "" --appendonly no \
    --notify-keyspace-events Kh >"$TMP/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
# Where portsyncd finds its databases, and the server pcd-bench watches STATE_DB on.
STATE_SOCK=$SOCK
db_args=(--redis-socket "$SOCK")
if [ "$SPLIT" = 1 ]; then
    STATE_SOCK=$TMP/state.sock
    redis-server --port 0 --unixsocket "$STATE_SOCK" --dir "$TMP" --dbfilename state.rdb --save "" \
        --appendonly no --notify-keyspace-events Kh >"$TMP/redis-state.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -s "$STATE_SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
    cat >"$TMP/database_config.json" <<JSON
{
    "INSTANCES": {
        "redis": {"hostname": "127.0.0.1", "port": 6379, "unix_socket_path": "$SOCK"},
        "redis_state": {"hostname": "127.0.0.1", "port": 6380, "unix_socket_path": "$STATE_SOCK"}
    },
    "DATABASES": {
        "APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
        "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
        "STATE_DB": {"id": 6, "separator": "|", "instance": "redis_state"}
    },
    "VERSION": "1.0"
}
JSON
    db_args=(--db-config "$TMP/database_config.json")
fi
ip netns add "$NS"
ip -n "$NS" link set lo up
for i in $(seq 0 $((PORTS - 1))); do
    redis-cli -s "$SOCK" -n 4 HSET "PORT|Ethernet$((i * 4))" lanes "$i" speed 100000 >/dev/null
done
"$BIN/pcd-consumer" --socket "$SOCK" >"$TMP/consumer.log" 2>&1 &
pids+=($!)
t_start=$(date +%s%N)
ip netns exec "$NS" "$BIN/portsyncd" "${db_args[@]}" --shm-name "$SEG" \
    --log-level notice --log-output STDERR >"$TMP/portsyncd.log" 2>&1 &
pcd=$!
pids+=($pcd)
for _ in $(seq 200); do grep -q 'ready:' "$TMP/portsyncd.log" && break; sleep 0.01; done
for i in $(seq 0 $((PORTS - 1))); do
    ip -n "$NS" link add "Ethernet$((i * 4))" type veth peer name "p$i"
    ip -n "$NS" link set "p$i" up
    ip -n "$NS" link set "Ethernet$((i * 4))" up
done
for _ in $(seq 1000); do
    [ "$(redis-cli -s "$SOCK" -n 0 HGET PORT_TABLE:PortInitDone lanes)" = 0 ] && break
    sleep 0.01
done
[ "$(redis-cli -s "$SOCK" -n 0 HGET PORT_TABLE:PortInitDone lanes)" = 0 ] ||
    { echo "portsyncd-bench.sh: PortInitDone not reached; portsyncd log:" >&2; tail -n 20 "$TMP/portsyncd.log" >&2; exit 1; }
init_ms=$(sed -n 's/.*PortInitDone: .*(\([0-9.]*\) ms after start).*/\1/p' "$TMP/portsyncd.log")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -r)"
echo "setup: change = $CHANGE, $PORTS veth ports, redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on a unix socket$([ "$SPLIT" = 1 ] && echo ", STATE_DB on a second one (SPLIT=1: two round trips per batch)")"
echo "PortInitDone ${init_ms} ms after start (includes creating the $PORTS veth pairs with ip; SONiC reference: ~14 ms with ports created by orchagent)"
sleep 0.5
ip netns exec "$NS" "$BIN/pcd-bench" --socket "$STATE_SOCK" --ports "$PORTS" --pid "$pcd" \
    --shm-name "$SEG" --shmdump "$BIN/portsyncd-shmdump" --latency-samples "$SAMPLES" \
    --rates "$RATES" --seconds "$SECONDS_PER_RATE" --change "$CHANGE"
echo
echo "SONiC C++ portsyncd reference (DESIGN.md section 4, same method on this kind of machine):"
echo "  latency p50 ~0.30 ms, p99 ~0.45 ms; ~3,000-3,500 changes/s; 76-103 ms CPU per 1,000 events; 7.7 MB RSS"
echo "targets: p99 <= 0.3 ms; >= 20k changes/s with the final state correct; <= 30 ms CPU per 1,000 events; RSS <= 6 MB"
