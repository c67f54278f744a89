#!/usr/bin/env bash
# Warm restart, a port deleted while portsyncd was away (its netdev gone, its
# CONFIG_DB entry still there), and a stale STATE_DB entry of a port that is in
# neither CONFIG_DB nor the kernel: no write during the hold; the deleted port
# keeps reconciliation from happening before the timer (2 s here), which then
# fires, is logged, and deletes both stale entries (one write each), nothing else.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 3 ports in STATE_DB" live_switch 0 4 8
del_port 8
state HSET "PORT_TABLE|Ethernet96" state ok netdev_oper_status up admin_status up mtu 1500 >/dev/null
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
config HSET "WARM_RESTART|swss" portsyncd_timer 2 >/dev/null
ks_start
t0=$(date +%s%N)
start_portsyncd
check "the timer is read" wait_for 5 grep -q 'reconcile timer 2 s (CONFIG_DB WARM_RESTART|swss portsyncd_timer)' "$TMP/portsyncd.log"
check "the initial dump is applied" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
expect_eq "still restored before the timer" restored "$(warm_state)"
expect_eq "Ethernet8's entry kept during the hold" 1 "$(state EXISTS 'PORT_TABLE|Ethernet8')"
check "state reaches reconciled" wait_for 10 warm_state_is reconciled
ms=$(ms_since "$t0")
echo "     (reconciled $ms ms after portsyncd was started)"
check "at the timer, not before ($ms ms >= 2000)" test "$ms" -ge 2000
check "reconciliation at the timer is logged with the port that did not settle" \
    grep -q 'reconciling at the timer: 1 CONFIG_DB port not settled: Ethernet8 (no netdev seen)' "$TMP/portsyncd.log"
expect_eq "Ethernet8's STATE_DB entry removed" 0 "$(state EXISTS 'PORT_TABLE|Ethernet8')"
expect_eq "Ethernet96's stale entry removed" 0 "$(state EXISTS 'PORT_TABLE|Ethernet96')"
sleep 0.5
expect_eq "Ethernet8: one write, a del" del "$(ks_events Ethernet8)"
expect_eq "Ethernet96: one write, a del" del "$(ks_events Ethernet96)"
expect_eq "no other write" 2 "$(ks_count)"
check "stale entries removed: 2" metric_is portsyncd_reconcile_stale_removed_total 2
check "STATE_DB matches the kernel" state_matches_kernel 0 4 8
check "warm run exits 0" stop_portsyncd
finish
