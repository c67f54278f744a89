# tests/core/warmlib.sh - what the warm-restart and restart-alone scenarios
# share, on top of lib.sh: an independent count of STATE_DB PORT_TABLE writes
# (keyspace notifications, received by redis-cli), an independent netlink
# listener (ip monitor link), a first cold run that leaves a live switch behind,
# and the WARM_RESTART_TABLE state.
#
# Usage: source "$(dirname "$0")/lib.sh"; source "$(dirname "$0")/warmlib.sh"

# ks_start: subscribe to __keyspace@6__:PORT_TABLE|* ; every event one CSV line in
# $TMP/keyspace.log ("pmessage","pattern","channel","event"). The server has
# notify-keyspace-events KA (start_redis). Returns once the subscription is live.
KS_PID=
IPLINK_PID=
ks_start() {
    stop_pids "$KS_PID" # a second count starts from zero, with one subscriber
    : >"$TMP/keyspace.log"
    redis-cli -s "$SOCK" --csv psubscribe '__keyspace@6__:PORT_TABLE|*' >>"$TMP/keyspace.log" 2>&1 &
    KS_PID=$!
    PIDS+=($KS_PID)
    wait_for 5 grep -q '"psubscribe"' "$TMP/keyspace.log" || { echo "keyspace subscriber did not start"; return 1; }
    # A probe write proves events flow; it is not counted (another key).
    state HSET "PORT_TABLE_PROBE|x" a b >/dev/null
}
# ks_count [PORT]: STATE_DB PORT_TABLE writes seen (of PORT only, if given)
ks_count() {
    local pat='^"pmessage","__keyspace@6__:PORT_TABLE\|\*","__keyspace@6__:PORT_TABLE\|'
    if [ -n "${1-}" ]; then
        grep -cE "${pat}$1\"," "$TMP/keyspace.log" || true
    else
        grep -cE "$pat" "$TMP/keyspace.log" || true
    fi
}
# ks_events PORT: the events for PORT, space-separated (hset, del, ...)
ks_events() {
    grep -E "^\"pmessage\",\"[^\"]*\",\"__keyspace@6__:PORT_TABLE\|$1\"," "$TMP/keyspace.log" |
        sed 's/.*,"\([a-z]*\)"$/\1/' | tr '\n' ' ' | sed 's/ $//'
}

# iplink_start: `ip monitor link` in the namespace into $TMP/iplink.log, an
# independent netlink listener (RTNLGRP_LINK) watching for any IFF_UP lost.
iplink_start() {
    stop_pids "$IPLINK_PID"
    : >"$TMP/iplink.log"
    ip -n "$NS" monitor link >>"$TMP/iplink.log" 2>&1 &
    IPLINK_PID=$!
    PIDS+=($IPLINK_PID)
    sleep 0.2
}
# iplink_lost_up: the Ethernet* lines ip monitor printed without UP in their
# flags (a netdev that lost IFF_UP), one per line; empty when none did
iplink_lost_up() {
    grep -E '^[0-9]+: Ethernet[0-9]+[@:]' "$TMP/iplink.log" | grep -Ev '^Deleted' |
        grep -Ev '<([A-Z_]+,)*UP[,>]' || true
}

# warm_state: STATE_DB WARM_RESTART_TABLE|portsyncd state
warm_state() { state HGET "WARM_RESTART_TABLE|portsyncd" state; }
warm_state_is() { [ "$(warm_state)" = "$1" ]; }

# live_switch N...: a first, cold run as on a switch: CONFIG_DB ports, the
# consumer, portsyncd, then the netdevs (orchagent's order); it ends once
# STATE_DB has every port and PortInitDone is written, and portsyncd is stopped.
# What is left is a live switch whose portsyncd is not running.
live_switch() {
    seed_ports "$@"
    start_consumer
    start_portsyncd_ready || return 1
    local n
    for n in "$@"; do add_port "$n"; done
    wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]" ||
        { echo "first run: no PortInitDone"; return 1; }
    wait_for 10 state_matches_kernel "$@" || { echo "first run: STATE_DB does not match the kernel"; return 1; }
    stop_portsyncd || { echo "first run: portsyncd did not exit 0"; return 1; }
    appl DEL PORT_TABLE:PortInitDone >/dev/null
    # The restart's log on its own: its lines are looked for from the top.
    mv "$TMP/portsyncd.log" "$TMP/portsyncd-first-run.log"
}

# state_dump N...: STATE_DB PORT_TABLE of those ports, for comparing before/after
state_dump() {
    local n
    for n in "$@"; do echo "Ethernet$n: $(state HGETALL "PORT_TABLE|Ethernet$n" | tr '\n' ' ')"; done
}

# ms_since T0_NS: milliseconds from T0 (date +%s%N) to now
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# log_order LINE...: the lines appear in $TMP/portsyncd.log in this order (fixed strings)
log_order() {
    local at=0 l n
    for l in "$@"; do
        n=$(grep -nF -- "$l" "$TMP/portsyncd.log" | awk -F: -v a="$at" '$1 > a { print $1; exit }')
        [ -n "$n" ] || { echo "not found after line $at: $l"; return 1; }
        at=$n
    done
}
