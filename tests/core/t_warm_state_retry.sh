#!/usr/bin/env bash
# The connection lost exactly when reconciliation writes WARM_RESTART_TABLE|
# portsyncd state=reconciled (writes paused past portsyncd's command timeout
# with CLIENT PAUSE WRITE, so the reads and PINGs before it go through). The
# hold is over either way, but warm-reboot tooling waits on state=reconciled:
# portsyncd must write it once it has reconnected, not leave "restored" for ever.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 2 ports in STATE_DB" live_switch 0 4
# Configured, never consumed, no netdev: nothing of it is written, and the hold
# lasts until the 3 s timer.
seed_ports 20
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
config HSET "WARM_RESTART|swss" portsyncd_timer 3 >/dev/null
t0=$(date +%s%N)
start_portsyncd --redis-timeout 500
check "state reaches restored" wait_for 5 warm_state_is restored
check "the initial dump is applied" wait_for 5 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
while [ "$(ms_since "$t0")" -lt 2000 ]; do sleep 0.05; done
redis-cli -s "$SOCK" CLIENT PAUSE 2500 WRITE >/dev/null
check "reconciled at the timer (logged)" wait_for 10 grep -q 'reconciled (the 3 s timer expired' "$TMP/portsyncd.log"
check "the state write was lost with the connection" \
    wait_for 5 grep -q 'writing WARM_RESTART_TABLE|portsyncd state' "$TMP/portsyncd.log"
check "state=reconciled once the connection is back" wait_for 10 warm_state_is reconciled
check "warm run exits 0" stop_portsyncd
finish
