# tests/core/lib.sh - the real parts for portsyncd's scenario tests: a fresh
# network namespace with veth ports named EthernetN, CONFIG_DB seeded as SONiC
# does, the stand-in consumer, portsyncd itself, and what its segment and
# STATE_DB say. Temp dir, cleanup, assertions, polling and redis-server come
# from tests/lib/common.sh (read its header for the cleanup order).
#
# Usage in a scenario: source "$(dirname "$0")/lib.sh" [BINDIR]; then the helpers
# below. Not -e: scenarios run commands that are meant to fail.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh" pcd "${1-}"
NS=pcd-$NAME-$$
PCD_PID=

# On exit: portsyncd first, with its Redis running (a test may have stopped it),
# so it drains instead of retrying; the namespace once nothing runs in it.
lib_stop() {
    [ -n "$REDIS_PID" ] && kill -CONT "$REDIS_PID" 2>/dev/null
    stop_pids "$PCD_PID"
}
lib_cleanup() { ip netns del "$NS" 2>/dev/null; }

# rcli DB ARGS...
rcli() { local db=$1; shift; redis-cli -s "$SOCK" -n "$db" "$@"; }
appl() { rcli 0 "$@"; }
config() { rcli 4 "$@"; }
state() { rcli 6 "$@"; }

make_ns() {
    ip netns add "$NS" || { echo "cannot create namespace $NS"; exit 1; }
    ip -n "$NS" link set lo up
}
# add_port N: veth pair EthernetN <-> pN, both up (pN is the far end we flap)
add_port() {
    ip -n "$NS" link add "Ethernet$1" type veth peer name "p$1" &&
        ip -n "$NS" link set "p$1" up && ip -n "$NS" link set "Ethernet$1" up
}
del_port() { ip -n "$NS" link del "Ethernet$1"; }
carrier() { ip -n "$NS" -o link show "Ethernet$1" | grep -q 'LOWER_UP' && echo up || echo down; }

seed_ports() { # seed_ports N...: CONFIG_DB PORT|EthernetN with SONiC-like fields
    for n in "$@"; do
        config HSET "PORT|Ethernet$n" lanes "$((n * 4)),$((n * 4 + 1))" speed 100000 \
            alias "etp$((n / 4 + 1))" mtu 9100 admin_status up index "$((n / 4))" >/dev/null
    done
}

start_consumer() {
    "$BIN/pcd-consumer" --socket "$SOCK" >>"$TMP/consumer.log" 2>&1 &
    PIDS+=($!)
    wait_for 5 grep -q ready "$TMP/consumer.log"
}

# start_portsyncd ARGS...: in the namespace, logs in $TMP/portsyncd.log
start_portsyncd() {
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$SEG" \
        --log-level DEBUG "$@" >>"$TMP/portsyncd.log" 2>&1 &
    PCD_PID=$!
}
# start_portsyncd_ready ARGS...: and wait until its initial dump is applied. Netdevs
# created before that are "old" interfaces at a cold start (see --old-interfaces).
start_portsyncd_ready() {
    # The log accumulates over runs: wait for one more "ready" line than there was.
    local before
    before=$(grep -c 'ready: initial link dump applied' "$TMP/portsyncd.log" 2>/dev/null || true)
    start_portsyncd "$@"
    wait_for 10 bash -c "[ \$(grep -c 'ready: initial link dump applied' '$TMP/portsyncd.log') -gt ${before:-0} ]" ||
        { echo "portsyncd did not become ready"; return 1; }
}
stop_portsyncd() {
    kill -TERM "$PCD_PID" 2>/dev/null
    wait "$PCD_PID"
    local rc=$?
    PCD_PID=
    return $rc
}

# metric NAME_WITH_LABELS: value from the segment, "" if absent
metric() {
    "$BIN/portsyncd-shmdump" --name "$SEG" --format prometheus 2>/dev/null |
        awk -v k="$1" '$1 == k { print $2 }'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
state_field() { state HGET "PORT_TABLE|$1" "$2"; }

# state_matches_kernel N...: STATE_DB oper status equals the kernel's carrier for
# every port that exists, and there is no STATE_DB entry for one that does not.
state_matches_kernel() {
    for n in "$@"; do
        if ip -n "$NS" link show "Ethernet$n" >/dev/null 2>&1; then
            [ "$(state HGET "PORT_TABLE|Ethernet$n" netdev_oper_status)" = "$(carrier "$n")" ] || return 1
        else
            [ "$(state EXISTS "PORT_TABLE|Ethernet$n")" = 0 ] || return 1
        fi
    done
}
