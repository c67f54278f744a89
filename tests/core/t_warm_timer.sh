#!/usr/bin/env bash
# The reconcile timer, CONFIG_DB WARM_RESTART|swss portsyncd_timer: a whole
# number of seconds from 1 to 9999 (SONiC's bounds); anything else is logged,
# naming the value and the bounds, and replaced by the default (30 s). When a
# CONFIG_DB port never settles (its netdev never comes back), reconciliation
# happens at the timer, and says so.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/warmlib.sh"
start_redis
make_ns
check "a live switch: 2 ports in STATE_DB" live_switch 0 4
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
for bad in 0 10000 abc -5 " 7" 010x 99999999999999999999; do
    config HSET "WARM_RESTART|swss" portsyncd_timer "$bad" >/dev/null
    start_portsyncd
    check "portsyncd_timer '$bad' refused, the default used" \
        wait_for 5 grep -qF "CONFIG_DB WARM_RESTART|swss portsyncd_timer '$bad' is not a whole number of seconds from 1 to 9999: using the default 30 s" "$TMP/portsyncd.log"
    check "... and it reconciles all the same" wait_for 10 warm_state_is reconciled
    check "... timer gauge 30" metric_is portsyncd_warm_restart_timer_seconds 30
    stop_portsyncd
done
config HDEL "WARM_RESTART|swss" portsyncd_timer >/dev/null
start_portsyncd
check "no portsyncd_timer: the default, said" \
    wait_for 5 grep -q 'reconcile timer 30 s (CONFIG_DB WARM_RESTART|swss portsyncd_timer not set: the default)' "$TMP/portsyncd.log"
check "... reconciled" wait_for 10 warm_state_is reconciled
stop_portsyncd

# A configured port whose netdev never comes: reconciliation at the timer (3 s).
seed_ports 20
config HSET "WARM_RESTART|swss" portsyncd_timer 3 >/dev/null
ks_start
t0=$(date +%s%N)
start_portsyncd
check "state reaches restored" wait_for 5 warm_state_is restored
check "state reaches reconciled" wait_for 10 warm_state_is reconciled
ms=$(ms_since "$t0")
echo "     (reconciled $ms ms after portsyncd was started; timer 3 s)"
check "at the timer ($ms ms >= 3000)" test "$ms" -ge 3000
check "within a second of it ($ms ms < 4500)" test "$ms" -lt 4500
check "logged, naming the port" grep -q 'reconciling at the timer: 1 CONFIG_DB port not settled: Ethernet20 (no netdev seen)' "$TMP/portsyncd.log"
check "the reason is in the reconciled line" grep -q 'reconciled (the 3 s timer expired with 1 CONFIG_DB port not settled' "$TMP/portsyncd.log"
expect_eq "nothing written" 0 "$(ks_count)"
check "the timer gauge says 3" metric_is portsyncd_warm_restart_timer_seconds 3
check "last run exits 0" stop_portsyncd
finish
