#!/usr/bin/env bash
# One loop (issue 13): while Redis is connected, netlink is read inline by the
# writer's loop (no thread named "netlink", no hand-off between threads), and it
# is still read while a Redis reply is outstanding (Redis stopped: events are
# queued and coalesced). While Redis is unreachable the reader has its thread
# back (reconnecting is not a Redis reply), then inline again; STATE_DB ends
# exact every time. Threads are named for `top -H` and `ps -L`.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
ports="0 4"
seed_ports $ports
start_consumer
start_portsyncd_ready --redis-timeout 10000
for n in $ports; do add_port "$n"; done
check "STATE_DB has both ports" wait_for 10 state_matches_kernel $ports

# threads: the names of portsyncd's threads, sorted, one line
threads() { cat /proc/"$PCD_PID"/task/*/comm 2>/dev/null | sort | tr '\n' ' '; }
has_netlink_thread() { threads | grep -qw netlink; }
echo "     threads while connected: $(threads)"
check "threads are named (monitor, signals)" bash -c "cat /proc/$PCD_PID/task/*/comm | grep -qx monitor && cat /proc/$PCD_PID/task/*/comm | grep -qx signals"
check "connected: netlink is read inline (no netlink thread)" wait_for 5 bash -c "! cat /proc/$PCD_PID/task/*/comm | grep -qx netlink"
ip -n "$NS" link set p0 down
check "a change reaches STATE_DB inline" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"

# A reply outstanding: Redis stopped with a write in flight. The loop waits on
# the reply with netlink polled too: the later changes are read, queued and
# coalesced (one entry per port) while Redis says nothing.
coal0=$(metric portsyncd_events_coalesced_total)
kill -STOP "$REDIS_PID"
ip -n "$NS" link set p0 up # its write is the one left waiting
sleep 0.3
for _ in 1 2 3; do ip -n "$NS" link set p4 down; ip -n "$NS" link set p4 up; done
ip -n "$NS" link set p4 down
sleep 1
coal1=$(metric portsyncd_events_coalesced_total)
check "Redis stalled: later events are still read and coalesced per port ($coal0 -> $coal1)" test "${coal1:-0}" -gt "${coal0:-0}"
refute "a stalled reply does not bring the thread back" has_netlink_thread
kill -CONT "$REDIS_PID"
check "after the stall STATE_DB matches the kernel" wait_for 10 state_matches_kernel $ports
expect_eq "Ethernet4 oper down" down "$(state_field Ethernet4 netdev_oper_status)"

# Redis gone: reconnecting is no reply to wait on; the reader thread comes back.
stop_redis
check "Redis down: redis_connected 0" wait_for 10 metric_is portsyncd_redis_connected 0
check "Redis down: the netlink thread runs again" wait_for 5 has_netlink_thread
recv0=$(metric portsyncd_events_coalesced_total)
ip -n "$NS" link set p4 up
ip -n "$NS" link set p0 down
ip -n "$NS" link set p0 up
ip -n "$NS" link set p0 down
check "Redis down: events are still read and coalesced (from $recv0)" wait_for 5 bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name $SEG --format prometheus | awk '\$1 == \"portsyncd_events_coalesced_total\" {print \$2}')\" -gt ${recv0:-0} ]"
start_redis
check "Redis back: reconnected" wait_for 15 metric_is portsyncd_redis_connected 1
check "Redis back: inline again (no netlink thread)" wait_for 5 bash -c "! cat /proc/$PCD_PID/task/*/comm | grep -qx netlink"
check "Redis back: STATE_DB matches the kernel" wait_for 10 state_matches_kernel $ports
expect_eq "Ethernet0 oper down" down "$(state_field Ethernet0 netdev_oper_status)"
expect_eq "Ethernet4 oper up" up "$(state_field Ethernet4 netdev_oper_status)"
ip -n "$NS" link set p0 up
check "and follows the next change" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = up ]"
t0=$(date +%s%N)
check "SIGTERM while inline exits 0" stop_portsyncd
ms=$((($(date +%s%N) - t0) / 1000000))
check "promptly ($ms ms)" test "$ms" -lt 2000
finish
