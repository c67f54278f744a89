#!/usr/bin/env bash
# Redis killed and restarted while ports flap: redis_connected goes 0 then 1,
# portsyncd reconnects and re-publishes the kernel's state, STATE_DB converges,
# and the failure and reconnect counters say what happened.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
ports="0 4 8 12"
seed_ports $ports
start_consumer
start_portsyncd_ready
for n in $ports; do add_port "$n"; done
check "STATE_DB has the 4 ports" wait_for 10 bash -c "[ \$(redis-cli -s $SOCK -n 6 KEYS 'PORT_TABLE|Ethernet*' | wc -l) = 4 ]"
check "redis_connected is 1" metric_is portsyncd_redis_connected 1

flapper() {
    while :; do
        for n in $ports; do ip -n "$NS" link set "p$n" down; ip -n "$NS" link set "p$n" up; done
        sleep 0.01
    done
}
flapper &
flap_pid=$!
PIDS+=($flap_pid)
sleep 0.5
stop_redis # SIGTERM: Redis saves its data, as a restarted SONiC redis would have it
check "redis_connected drops to 0" wait_for 10 metric_is portsyncd_redis_connected 0
check "health drops to 0 while Redis is away" wait_for 5 metric_is portsyncd_health_status 0
sleep 1
start_redis
check "redis_connected back to 1" wait_for 15 metric_is portsyncd_redis_connected 1
sleep 0.5
kill "$flap_pid"; wait "$flap_pid" 2>/dev/null
sleep 0.2 # an ip command the flapper had started finishes on its own
# Final kernel state: Ethernet4 and Ethernet12 down, the others up. Every peer is set
# explicitly: the flapper may have been stopped between its "down" and its "up".
ip -n "$NS" link set p0 up
ip -n "$NS" link set p8 up
ip -n "$NS" link set p4 down
ip -n "$NS" link set p12 down
check "STATE_DB converges to the kernel's state" wait_for 10 state_matches_kernel $ports
expect_eq "Ethernet4 down" down "$(state_field Ethernet4 netdev_oper_status)"
expect_eq "Ethernet0 up" up "$(state_field Ethernet0 netdev_oper_status)"
reconnects=$(metric portsyncd_redis_reconnects_total)
check "redis_reconnects_total >= 1 ($reconnects)" test "${reconnects:-0}" -ge 1
check "a resync re-published the kernel state" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | grep 'reason=\"redis_reconnect\"' | cut -d' ' -f2)\" -ge 1 ]"
echo "     (events_failed_total=$(metric portsyncd_events_failed_total): batches in flight when Redis died)"
check "the outage is logged with the socket" grep -q "redis unix:$SOCK" "$TMP/portsyncd.log"
check "health back to 1" wait_for 15 metric_is portsyncd_health_status 1
check "SIGTERM exits 0" stop_portsyncd
finish
