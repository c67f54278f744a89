#!/usr/bin/env bash
# A resync dump of more ports than the queue holds, started by the writer's
# loop while it reads netlink inline (core.one_loop): Redis restarted, 64 ports,
# --queue-size 16. The dump after the reconnect is read inline and overflows
# the queue; the reader must then take its thread (the queue "congested") until
# a dump fits, as at 6148755, where one queue_full resync settled it. It must
# not go back inline on that same dump's NLMSG_DONE and overflow the next dump
# the same way for ever: a daemon at full CPU taking a thousand dumps a second.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
ports=$(seq 0 4 252) # 64 ports, four times the queue
seed_ports $ports
start_consumer
start_portsyncd_ready --queue-size 16 --log-level NOTICE
for n in $ports; do add_port "$n"; done
check "STATE_DB has the 64 ports" wait_for 20 state_matches_kernel $ports
qf() { metric 'portsyncd_netlink_resyncs_total{reason="queue_full"}'; }
cpu() { awk '{print $14 + $15}' /proc/"$PCD_PID"/stat; }

stop_redis
check "Redis down: redis_connected 0" wait_for 10 metric_is portsyncd_redis_connected 0
ip -n "$NS" link set p8 down # a change to publish after the reconnect
start_redis
check "Redis back: reconnected" wait_for 15 metric_is portsyncd_redis_connected 1
check "Redis back: STATE_DB matches the kernel" wait_for 20 state_matches_kernel $ports
# Settled: after a moment for the resyncs to end, nothing may happen while idle.
sleep 2
q0=$(qf) c0=$(cpu)
sleep 2
q1=$(qf) c1=$(cpu)
check "idle after the reconnect: no more queue_full resyncs ($q0 -> $q1)" test "$q0" = "$q1"
check "idle after the reconnect: no CPU burnt ($((c1 - c0)) ticks in 2 s)" test $((c1 - c0)) -le 10
check "idle after the reconnect: inline again (no netlink thread)" \
    bash -c "! cat /proc/$PCD_PID/task/*/comm | grep -qx netlink"
ip -n "$NS" link set p0 down
check "and follows the next change" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
check "SIGTERM exits 0" stop_portsyncd
finish
