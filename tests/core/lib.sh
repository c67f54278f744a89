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

# start_portsyncd ARGS...: in the namespace, logs in $TMP/portsyncd.log (the
# LOGGER|portsyncd entry it registers says STDERR, so they stay there)
start_portsyncd() {
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$SEG" \
        --log-level DEBUG --log-output STDERR "$@" >>"$TMP/portsyncd.log" 2>&1 &
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

# ---- syslog: where LOGOUTPUT SYSLOG sends the lines ----

# syslog_listen: a unix datagram socket at $TMP/log.sock, every message it gets
# appended as one line to $TMP/syslog.log (what rsyslog would receive on /dev/log).
syslog_listen() {
    /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
print("ready", flush=True)
while True:
    out.write(s.recv(65536).replace(b"\n", b" ") + b"\n")
' "$TMP/log.sock" "$TMP/syslog.log" >"$TMP/syslog-listener.log" 2>&1 &
    PIDS+=($!)
    wait_for 5 grep -q ready "$TMP/syslog-listener.log"
}

# start_portsyncd_syslog ARGS...: portsyncd in the namespace and in a mount
# namespace of its own whose /dev/log is the test's socket (an overlay on /dev,
# so the host's /dev is not touched). The overlay hides /dev/shm: give it a
# segment path (--shm-name /...). Stdout and stderr in $TMP/portsyncd.log.
start_portsyncd_syslog() {
    mkdir -p "$TMP/dev-up" "$TMP/dev-work"
    ip netns exec "$NS" unshare --mount --propagation private sh -c '
        mount -t overlay overlay -o "lowerdir=/dev,upperdir=$0/dev-up,workdir=$0/dev-work" /dev &&
        touch /dev/log && mount --bind "$0/log.sock" /dev/log && exec "$@"' "$TMP" \
        "$BIN/portsyncd" "$@" >>"$TMP/portsyncd.log" 2>&1 &
    PCD_PID=$!
}

# ---- SONiC's database_config.json, databases on several servers ----

# start_redis_named NAME [ARGS...]: one more redis-server, on $TMP/NAME.sock
# (unix socket only, nothing saved); stopped on exit. Its pid: REDIS_PIDS[NAME].
declare -A REDIS_PIDS=()
start_redis_named() {
    local name=$1
    shift
    redis-server --port 0 --unixsocket "$TMP/$name.sock" --unixsocketperm 700 --dir "$TMP" \
        --dbfilename "$name.rdb" --save "" --appendonly no --notify-keyspace-events KA "$@" \
        >>"$TMP/redis-$name.log" 2>&1 &
    REDIS_PIDS[$name]=$!
    PIDS+=($!)
    wait_for 5 redis-cli -s "$TMP/$name.sock" ping || { echo "redis-server $name did not start"; exit 1; }
}

# write_db_config FILE APPL CONFIG STATE [SOCKET_OF_redis [SOCKET_OF_redis2]]: a
# database_config.json shaped like SONiC's template (every database, two
# instances "redis" and "redis2"), with APPL_DB, CONFIG_DB and STATE_DB on the
# instances named. The sockets default to $SOCK and $TMP/redis2.sock.
write_db_config() {
    local file=$1 appl=$2 cfg=$3 st=$4 s1=${5:-$SOCK} s2=${6:-$TMP/redis2.sock}
    mkdir -p "$(dirname "$file")"
    cat >"$file" <<JSON
{
    "INSTANCES": {
        "redis": {
            "hostname": "127.0.0.1",
            "port": 6379,
            "unix_socket_path": "$s1",
            "persistence_for_warm_boot": "yes"
        },
        "redis2": {
            "hostname": "127.0.0.1",
            "port": 6380,
            "unix_socket_path": "$s2"
        }
    },
    "DATABASES": {
        "APPL_DB": {"id": 0, "separator": ":", "instance": "$appl"},
        "ASIC_DB": {"id": 1, "separator": ":", "instance": "redis"},
        "COUNTERS_DB": {"id": 2, "separator": ":", "instance": "redis"},
        "LOGLEVEL_DB": {"id": 3, "separator": ":", "instance": "redis"},
        "CONFIG_DB": {"id": 4, "separator": "|", "instance": "$cfg"},
        "PFC_WD_DB": {"id": 5, "separator": ":", "instance": "redis"},
        "FLEX_COUNTER_DB": {"id": 5, "separator": ":", "instance": "redis"},
        "STATE_DB": {"id": 6, "separator": "|", "instance": "$st"},
        "SNMP_OVERLAY_DB": {"id": 7, "separator": "|", "instance": "redis"},
        "RESTAPI_DB": {"id": 8, "separator": "|", "instance": "redis"},
        "GB_ASIC_DB": {"id": 9, "separator": ":", "instance": "redis"},
        "GB_COUNTERS_DB": {"id": 10, "separator": ":", "instance": "redis"},
        "GB_FLEX_COUNTER_DB": {"id": 11, "separator": ":", "instance": "redis"},
        "APPL_STATE_DB": {"id": 14, "separator": ":", "instance": "redis"}
    },
    "VERSION": "1.0"
}
JSON
}

# keys_on SOCKET: every key of every database of that server, "db<N> <key>" per
# line, sorted (SCAN, so nothing is missed or blocked).
keys_on() {
    local db
    for db in $(redis-cli -s "$1" INFO keyspace | sed -n 's/^db\([0-9]*\):.*/\1/p'); do
        redis-cli -s "$1" -n "$db" --scan | sed "s/^/db$db /"
    done | LC_ALL=C sort
}

# start_portsyncd_with ARGS...: portsyncd in the namespace with only the
# arguments given and the test's segment (no --redis-socket: the databases come
# from the arguments), logs in $TMP/portsyncd.log.
start_portsyncd_with() {
    ip netns exec "$NS" "$BIN/portsyncd" --shm-name "$SEG" "$@" >>"$TMP/portsyncd.log" 2>&1 &
    PCD_PID=$!
}

# monitor_start SOCKET NAME / monitor_stop NAME: the server's MONITOR stream into
# $TMP/monitor-NAME.log (every command any client sends, and each command a
# script runs, marked "lua").
declare -A MONITOR_PIDS=()
monitor_start() {
    redis-cli -s "$1" MONITOR >"$TMP/monitor-$2.log" 2>&1 &
    MONITOR_PIDS[$2]=$!
    PIDS+=($!)
    wait_for 5 grep -q OK "$TMP/monitor-$2.log"
}
monitor_stop() { kill -TERM "${MONITOR_PIDS[$1]}" 2>/dev/null; wait "${MONITOR_PIDS[$1]}" 2>/dev/null; }
# monitor_count NAME COMMAND: commands COMMAND sent by clients (not by scripts)
monitor_count() { grep -v ' lua\]' "$TMP/monitor-$1.log" | grep -c "\] \"$2\"" || true; }
