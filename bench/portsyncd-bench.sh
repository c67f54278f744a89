#!/usr/bin/env bash
# bench/portsyncd-bench.sh [BINDIR] - portsyncd measured from the outside, the way
# DESIGN.md measured SONiC's C++ portsyncd: a namespace with 32 veth ports, a
# local redis-server on a unix socket, link changes driven through netlink
# (pcd-bench, not `ip`), STATE_DB watched through keyspace notifications.
# Prints the figures next to SONiC's reference figures. Needs root.
#
# Environment: CHANGE (admin: toggle IFF_UP, as a flap; mtu: 1500<->9100, cheaper
# for the kernel, to find portsyncd's own ceiling), PORTS (32), SAMPLES (2000), RATES ("100,1000,0"
# where 0 = closed loop: as fast as one thread can send), SECONDS_PER_RATE (2),
# ROUNDS (3: rounds alternate the rates and, in the closed loop, the kernel alone
# in a second namespace with the same veths and no daemon; medians), SPLIT (0; 1:
# STATE_DB on a second redis-server, through a database_config.json, to measure
# what two servers cost: two round trips per batch instead of one), NOTIFY (AKE,
# the notify-keyspace-events of SONiC's database container; portsyncd's APPL_DB
# view needs K and A (or g, h, x, e): NOTIFY=Kh measures the script path alone).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$top/build/bin}" && pwd)
PORTS=${PORTS:-32}
SAMPLES=${SAMPLES:-2000}
RATES=${RATES:-100,1000,0}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RATE=${SECONDS_PER_RATE:-2}
CHANGE=${CHANGE:-admin}
SPLIT=${SPLIT:-0}
NOTIFY=${NOTIFY:-AKE}
for b in portsyncd portsyncd-shmdump pcd-consumer pcd-bench; do
    [ -x "$BIN/$b" ] || { echo "portsyncd-bench.sh: $BIN/$b is missing (build with tests enabled: pcd-consumer lives in tests/)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/pcd-bench.XXXXXX)
NS=pcd-bench-$$
BARE=pcd-bare-$$
SEG=pcd-bench-$$
SOCK=$TMP/redis.sock
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$BARE" 2>/dev/null || true
    rm -rf "$TMP" "/dev/shm/$SEG"
}
trap cleanup EXIT

redis-server --port 0 --unixsocket "$SOCK" --dir "$TMP" --save "" --appendonly no \
    --notify-keyspace-events "$NOTIFY" >"$TMP/redis.log" 2>&1 &
redis_pid=$!
pids+=($redis_pid)
for _ in $(seq 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.05; done
# Where portsyncd finds its databases, and the server pcd-bench watches STATE_DB on.
STATE_SOCK=$SOCK
db_args=(--redis-socket "$SOCK")
if [ "$SPLIT" = 1 ]; then
    STATE_SOCK=$TMP/state.sock
    redis-server --port 0 --unixsocket "$STATE_SOCK" --dir "$TMP" --dbfilename state.rdb --save "" \
        --appendonly no --notify-keyspace-events "$NOTIFY" >"$TMP/redis-state.log" 2>&1 &
    redis_pid=$!
    pids+=($redis_pid)
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
# The kernel alone: the same veths in a namespace where nothing listens.
ip netns add "$BARE"
for i in $(seq 0 $((PORTS - 1))); do
    echo "link add Ethernet$((i * 4)) type veth peer name p$i"
    echo "link set p$i up"
    echo "link set Ethernet$((i * 4)) up"
done | ip -n "$BARE" -batch -
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
echo "setup: change = $CHANGE, $PORTS veth ports, redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on a unix socket (notify-keyspace-events $NOTIFY)$([ "$SPLIT" = 1 ] && echo ", STATE_DB on a second one (SPLIT=1: two round trips per batch)")"
echo "PortInitDone ${init_ms} ms after start (includes creating the $PORTS veth pairs with ip; SONiC reference: ~14 ms with ports created by orchagent)"
sleep 0.5
# With SPLIT=1 the redis-server measured is the STATE_DB one (the APPL_DB one
# only answers a pipelined EXISTS per batch).
ip netns exec "$NS" "$BIN/pcd-bench" --socket "$STATE_SOCK" --ports "$PORTS" --pid "$pcd" \
    --redis-pid "$redis_pid" --bare-netns "$BARE" --latency-samples "$SAMPLES" \
    --rates "$RATES" --seconds "$SECONDS_PER_RATE" --rounds "$ROUNDS" --change "$CHANGE"
# Where redis-server's time goes, by its own accounting (usec_per_call is inside
# the command only: the socket and event-loop work around it is not counted).
echo "redis-server commandstats (portsyncd's EVALSHA batches or plain HSET/DEL; HGETs are pcd-bench's):"
redis-cli -s "$STATE_SOCK" INFO commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|hset|del|hget|exists|publish|psubscribe|scan):' | sed 's/^/  /'
echo
echo "SONiC C++ portsyncd reference (DESIGN.md section 4, same method on this kind of machine):"
echo "  isolated change p50/p99 212-216/350-378 us; at 1,000/s p50/p99 96-112/212-220 us;"
echo "  closed loop 9.5-11.5k/s; CPU per 1,000 changes at 1,000/s: portsyncd 88-92 ms, redis-server 34-35 ms,"
echo "  together 122-127 ms; RSS 5.0 MB (issue 13)"
echo "targets (issue 13): at 1,000/s p50 <= 0.060 ms, p99 <= 0.120 ms, together <= 40 ms per 1,000 changes;"
echo "  closed loop >= 0.90x the kernel alone"
