#!/usr/bin/env bash
# SIGTERM while Redis is gone: portsyncd stops its netlink thread, says how many
# events it could not apply, and exits 0 (under ASan this also proves no thread
# outlives the queue and the metrics).
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0
start_consumer
start_portsyncd_ready
add_port 0
check "Ethernet0 in STATE_DB" wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' state)\" = ok ]"
stop_redis
check "redis_connected drops to 0" wait_for 10 metric_is portsyncd_redis_connected 0
ip -n "$NS" link set p0 down
sleep 0.3
t0=$(date +%s%N)
check "SIGTERM while reconnecting exits 0" stop_portsyncd
ms=$((($(date +%s%N) - t0) / 1000000))
check "and promptly (${ms} ms)" test "$ms" -lt 5000
check "it says what it could not apply" grep -q 'events not applied (Redis unavailable)' "$TMP/portsyncd.log"
finish
