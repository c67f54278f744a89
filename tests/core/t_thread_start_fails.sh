#!/usr/bin/env bash
# The netlink thread cannot be started (pthread_create() fails with EAGAIN, as
# at a threads or pids limit: tests/core/failthread.c, preloaded) just when the
# reader needs it: Redis lost, then the resync dump after the reconnect, read
# inline, overflows a 16-port queue (64 ports), and the congested queue asks
# for the thread each turn of the writer's loop. portsyncd stays inline and
# says so, but once in a while: not an ERROR line per turn (thousands a
# second); and it reads netlink only into an empty queue, so a dump passes
# through the queue part by part instead of overflowing it again and again.
# Once threads can be made again the thread is started, the dump
# fits, and it settles inline with STATE_DB exact.
source "$(dirname "$0")/lib.sh"
if ldd "$BIN/portsyncd" | grep -qE 'lib(a|t)san'; then
    echo "skipped: a sanitizer's runtime must come first, the shim cannot be preloaded"
    exit 77
fi
start_redis
make_ns
ports=$(seq 0 4 252) # 64 ports, four times the queue
seed_ports $ports
start_consumer
export FAIL_THREAD_FILE=$TMP/fail-pthread-create
LD_PRELOAD=$BIN/pcd-failthread.so start_portsyncd_ready --queue-size 16 --log-level NOTICE
for n in $ports; do add_port "$n"; done
check "STATE_DB has the 64 ports" wait_for 20 state_matches_kernel $ports
errors() { grep -c 'cannot start the netlink thread' "$TMP/portsyncd.log"; }
qf() { metric 'portsyncd_netlink_resyncs_total{reason="queue_full"}'; }

touch "$FAIL_THREAD_FILE"
stop_redis
check "Redis down: redis_connected 0" wait_for 10 metric_is portsyncd_redis_connected 0
ip -n "$NS" link set p8 down
start_redis
check "Redis back: reconnected" wait_for 15 metric_is portsyncd_redis_connected 1
check "no thread: STATE_DB still matches the kernel" wait_for 20 state_matches_kernel $ports
sleep 1
e0=$(errors) c0=$(awk '{print $14 + $15}' /proc/"$PCD_PID"/stat)
sleep 3
e1=$(errors) c1=$(awk '{print $14 + $15}' /proc/"$PCD_PID"/stat)
echo "     while no thread can start: $((e1 - e0)) ERROR lines and $((c1 - c0)) CPU ticks in 3 s"
check "the failure is logged" test "$e1" -ge 1
check "but not once per turn ($((e1 - e0)) lines in 3 s)" test $((e1 - e0)) -le 2
q0=$(qf)
sleep 2
q1=$(qf)
check "no thread: the dumps fit through the queue, no more queue_full resyncs ($q0 -> $q1)" test "$q0" = "$q1"
check "no thread: no CPU burnt ($((c1 - c0)) ticks in 3 s)" test $((c1 - c0)) -le 30

rm -f "$FAIL_THREAD_FILE"
sleep 3 # a retry starts the thread, whose dump fits
q0=$(qf)
sleep 2
q1=$(qf)
check "threads again: no more queue_full resyncs ($q0 -> $q1)" test "$q0" = "$q1"
check "threads again: inline (no netlink thread)" bash -c "! cat /proc/$PCD_PID/task/*/comm | grep -qx netlink"
check "threads again: STATE_DB matches the kernel" wait_for 10 state_matches_kernel $ports
ip -n "$NS" link set p0 down
check "and follows the next change" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
check "SIGTERM exits 0" stop_portsyncd
finish
