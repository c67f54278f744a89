#!/usr/bin/env bash
# Warm start (WARM_RESTART_ENABLE_TABLE|swss enable=true): restore_count
# increments, the APPL_DB copy and PortConfigDone are skipped, STATE_DB is
# refreshed from the kernel, PortInitDone is written. A warm start without a
# usable restore_count is a cold start.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4 8
start_consumer
start_portsyncd_ready
for n in 0 4 8; do add_port "$n"; done
check "cold run reaches PortInitDone" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
sleep 0.3
check "cold run exits 0" stop_portsyncd

# Prepare the warm restart: stale STATE_DB, a CONFIG_DB change that must NOT be copied.
state HSET "WARM_RESTART_ENABLE_TABLE|swss" enable true >/dev/null
appl DEL PORT_TABLE:PortInitDone PORT_TABLE:PortConfigDone >/dev/null
state HSET "PORT_TABLE|Ethernet4" mtu 1 netdev_oper_status down >/dev/null
config HSET "PORT|Ethernet0" speed 40000 >/dev/null
ip -n "$NS" link set p8 down

start_portsyncd_ready
check "PortInitDone written on warm start" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
expect_eq "restore_count incremented" 1 "$(state HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)"
expect_eq "APPL_DB copy skipped (speed unchanged)" 100000 "$(appl HGET PORT_TABLE:Ethernet0 speed)"
expect_eq "PortConfigDone skipped" 0 "$(appl EXISTS PORT_TABLE:PortConfigDone)"
expect_eq "STATE_DB mtu refreshed from the kernel" 1500 "$(state_field Ethernet4 mtu)"
expect_eq "STATE_DB oper status refreshed" up "$(state_field Ethernet4 netdev_oper_status)"
expect_eq "STATE_DB sees Ethernet8 down (changed while portsyncd was away)" down "$(state_field Ethernet8 netdev_oper_status)"
expect_eq "interfaces are not 'old' on a warm start (Ethernet0 still admin up in the kernel)" up \
    "$(ip -n "$NS" -o link show Ethernet0 | grep -q '[<,]UP[,>]' && echo up || echo down)"
check "portsyncd_warm_start is 1" metric_is portsyncd_warm_start 1
check "warm run exits 0" stop_portsyncd

start_portsyncd_ready
check "second warm start counts 2" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)\" = 2 ]"
check "third run exits 0" stop_portsyncd

# enable=true and restore_count empty: cold (nothing to restore), count 0.
state HSET "WARM_RESTART_TABLE|portsyncd" restore_count "" >/dev/null
start_portsyncd_ready --old-interfaces ignore
expect_eq "empty restore_count: cold start, count 0" 0 "$(state HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)"
check "empty-count run exits 0" stop_portsyncd

# enable=true but restore_count unusable: treated as cold, count reset to 0.
state HSET "WARM_RESTART_TABLE|portsyncd" restore_count garbage >/dev/null
appl DEL PORT_TABLE:PortConfigDone >/dev/null
start_portsyncd --old-interfaces off
check "unusable restore_count: cold start, PortConfigDone written" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortConfigDone count)\" = 3 ]"
expect_eq "restore_count reset to 0" 0 "$(state HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)"
check "the reason is logged" grep -q "restore_count is 'garbage', not a count: starting cold" "$TMP/portsyncd.log"
check "fourth run exits 0" stop_portsyncd

# enable=true and restore_count at LLONG_MAX: one more would overflow, so it is not
# a count either (cold start, reset to 0), not a negative count or a crash.
state HSET "WARM_RESTART_TABLE|portsyncd" restore_count 9223372036854775807 >/dev/null
start_portsyncd_ready --old-interfaces off
expect_eq "restore_count at LLONG_MAX: reset to 0" 0 "$(state HGET 'WARM_RESTART_TABLE|portsyncd' restore_count)"
check "the overflow is logged" grep -q "restore_count is '9223372036854775807', not a count: starting cold" "$TMP/portsyncd.log"
check "fifth run exits 0" stop_portsyncd
finish
