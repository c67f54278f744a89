#!/usr/bin/env bash
# Redis lost during the hold of a warm restart (stopped with SIGSTOP past
# portsyncd's 500 ms command timeout): portsyncd reconnects, the dump that
# follows the reconnection is held against the baseline like the first one
# (nothing rewritten), a bounce while Redis was away is not written either, and
# reconciliation still comes once the last netdev is back. The keyspace
# subscriber's connection outlives the stop, so every write is counted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 2 ports in STATE_DB" live_switch 0 4
# Ethernet8 is configured, consumed and in STATE_DB; its netdev comes back later.
seed_ports 8
state HSET "PORT_TABLE|Ethernet8" state ok netdev_oper_status up admin_status up mtu 1500 >/dev/null
wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HEXISTS PORT_TABLE:Ethernet8 admin_status)\" = 1 ]" ||
    appl HSET PORT_TABLE:Ethernet8 admin_status up >/dev/null
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
config HSET "WARM_RESTART|swss" portsyncd_timer 120 >/dev/null
ks_start
start_portsyncd --redis-timeout 500
check "state reaches restored" wait_for 10 warm_state_is restored
check "the initial dump is applied" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"

kill -STOP "$REDIS_PID"
ip -n "$NS" link set p4 down
sleep 0.1
ip -n "$NS" link set p4 up
sleep 2
kill -CONT "$REDIS_PID"
check "portsyncd reconnects" wait_for 15 bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name '$SEG' --format prometheus | awk '\$1 == \"portsyncd_redis_reconnects_total\" { print \$2 }')\" -ge 1 ]"
check "... and dumps the links again" wait_for 10 bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name '$SEG' --format prometheus | awk '\$1 == \"portsyncd_netlink_resyncs_total{reason=\\\"redis_reconnect\\\"}\" { print \$2 }')\" -ge 1 ]"
sleep 1.5
expect_eq "still restored (Ethernet8 has not come back)" restored "$(warm_state)"
expect_eq "no STATE_DB PORT_TABLE write across the loss" 0 "$(ks_count)"

add_port 8
check "state reaches reconciled once Ethernet8 is back" wait_for 10 warm_state_is reconciled
sleep 0.5
expect_eq "no STATE_DB PORT_TABLE write at all" 0 "$(ks_count)"
check "STATE_DB matches the kernel" state_matches_kernel 0 4 8
check "warm run exits 0" stop_portsyncd
finish
