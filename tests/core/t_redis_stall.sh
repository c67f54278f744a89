#!/usr/bin/env bash
# Redis stopped (SIGSTOP) for 7 s, longer than the readers' liveness max age
# (5 s), with --redis-timeout 10000 so portsyncd's command just waits: the writer
# must stay alive to readers (the heartbeat comes from a thread that never waits
# on Redis), health must say degraded (a command outstanding for more than 1 s),
# and sync must resume after SIGCONT.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
start_redis
make_ns
seed_ports 0
start_consumer
start_portsyncd_ready --redis-timeout 10000
add_port 0
check "Ethernet0 in STATE_DB" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' state)\" = ok ]"
check "healthy before the stall" wait_for 15 metric_is portsyncd_health_status 1

# writer_field FIELD: from shmdump's JSON view of the writer
writer_field() {
    "$BIN/portsyncd-shmdump" --name "$SEG" --format json | "$PY" -c "import json, sys; print(json.load(sys.stdin)['writer']['$1'])"
}

kill -STOP "$REDIS_PID"
t0=$(date +%s%N)
ip -n "$NS" link set p0 down # an event that cannot be applied until Redis answers
check "health 0.5 while a Redis command is outstanding" wait_for 5 metric_is portsyncd_health_status 0.5
while [ $(($(date +%s%N) - t0)) -lt 7000000000 ]; do sleep 0.1; done
age=$(writer_field heartbeat_age_seconds)
alive=$(writer_field alive)
check "heartbeat age after 7 s of stalled Redis is under 1 s ($age s)" "$PY" -c "import sys; sys.exit(0 if float('$age') < 1 else 1)"
expect_eq "the writer is alive to readers" True "$alive"
expect_eq "still degraded, not unhealthy (the connection is not lost)" 0.5 "$(metric portsyncd_health_status)"
check "portsyncd still runs" kill -0 "$PCD_PID"
kill -CONT "$REDIS_PID"

check "sync resumes: Ethernet0 oper down in STATE_DB" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
ip -n "$NS" link set p0 up
check "and follows the next change" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = up ]"
check "healthy again" wait_for 15 metric_is portsyncd_health_status 1
check "the health change was logged with its reason" grep -q 'health 0.5: a Redis command has been outstanding' "$TMP/portsyncd.log"
check "exits 0 on SIGTERM" stop_portsyncd
finish
