#!/usr/bin/env bash
# Redis restarted empty during the hold of a warm restart (a server without
# persistence, or STATE_DB's own instance restarted): what STATE_DB held when
# the baseline was read is gone. The dump after the reconnection must be held
# against what STATE_DB has now, not against the baseline in memory: otherwise
# every port equal to the old baseline is "held", reconciliation finds nothing
# to write, and STATE_DB PORT_TABLE stays empty for ever. APPL_DB is put back
# (what the consumer had) while portsyncd is frozen, so only STATE_DB is lost.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 2 ports in STATE_DB" live_switch 0 4
# Ethernet8 is configured, consumed and in STATE_DB; its netdev comes back later,
# so the hold is still open when Redis restarts.
seed_ports 8
state HSET "PORT_TABLE|Ethernet8" state ok netdev_oper_status up admin_status up mtu 1500 >/dev/null
wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HEXISTS PORT_TABLE:Ethernet8 admin_status)\" = 1 ]" ||
    appl HSET PORT_TABLE:Ethernet8 admin_status up >/dev/null
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
config HSET "WARM_RESTART|swss" portsyncd_timer 120 >/dev/null
start_portsyncd --redis-timeout 500
check "state reaches restored" wait_for 10 warm_state_is restored
check "the initial dump is applied" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"

# Frozen, so that it reconnects only once the new server has APPL_DB back.
kill -STOP "$PCD_PID"
stop_redis
mkdir -p "$TMP/empty"
start_redis --dir "$TMP/empty"
for n in 0 4 8; do
    appl HSET "PORT_TABLE:Ethernet$n" admin_status up mtu 9100 speed 100000 >/dev/null
    config HSET "PORT|Ethernet$n" admin_status up mtu 9100 speed 100000 >/dev/null
done
expect_eq "STATE_DB is empty on the new server" 0 "$(state --scan --pattern 'PORT_TABLE|*' | wc -l)"
kill -CONT "$PCD_PID"
check "portsyncd reconnects" wait_for 15 bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name '$SEG' --format prometheus | awk '\$1 == \"portsyncd_redis_reconnects_total\" { print \$2 }')\" -ge 1 ]"
add_port 8
check "Ethernet8 is back: reconciliation ends the hold" wait_for 10 grep -q 'reconciled (' "$TMP/portsyncd.log"
check "STATE_DB has every port again, as the kernel has it" wait_for 5 state_matches_kernel 0 4 8
state_dump 0 4 8
check "warm run exits 0" stop_portsyncd
finish
