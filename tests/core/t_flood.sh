#!/usr/bin/env bash
# Thousands of link changes while Redis is stopped (SIGSTOP): the queue coalesces
# per port (no unbounded memory), queue_depth rises above 0 and returns to 0, and
# STATE_DB ends equal to the kernel.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
ports=$(seq 0 4 124)
seed_ports $ports
start_consumer
start_portsyncd_ready --redis-timeout 10000
for n in $ports; do add_port "$n"; done
check "STATE_DB has 32 ports" wait_for 10 bash -c "[ \$(redis-cli -s $SOCK -n 6 KEYS 'PORT_TABLE|Ethernet*' | wc -l) = 32 ]"
sleep 0.3
rss0=$(awk '/VmRSS/ {print $2}' /proc/$PCD_PID/status)

kill -STOP "$REDIS_PID"
batch=$TMP/flaps.batch
for i in $(seq 60); do for n in $ports; do echo "link set p$n down"; echo "link set p$n up"; done; done >"$batch"
for n in 0 8 16; do echo "link set p$n down"; done >>"$batch" # final state: three ports down
ip -n "$NS" -batch "$batch"
changes=$(wc -l <"$batch")
sleep 0.5
depth=$(metric portsyncd_queue_depth)
echo "     ($changes link changes sent; queue_depth $depth while Redis is stopped)"
check "queue_depth > 0 while Redis is stopped" test "${depth%.*}" -gt 0
rss1=$(awk '/VmRSS/ {print $2}' /proc/$PCD_PID/status)
echo "     (RSS ${rss0} kB before, ${rss1} kB during the flood)"
check "memory stays bounded (RSS grew by less than 2 MB)" test $((rss1 - rss0)) -lt 2048
check "events were coalesced" bash -c "[ \"\$(\"$BIN/portsyncd-shmdump\" --name $SEG --format prometheus | awk '\$1 == \"portsyncd_events_coalesced_total\" {print \$2}')\" -gt 0 ]"
kill -CONT "$REDIS_PID"
check "queue_depth returns to 0" wait_for 20 metric_is portsyncd_queue_depth 0
check "STATE_DB equals the kernel for all 32 ports" wait_for 10 state_matches_kernel $ports
expect_eq "Ethernet8 ends down" down "$(state_field Ethernet8 netdev_oper_status)"
expect_eq "Ethernet4 ends up" up "$(state_field Ethernet4 netdev_oper_status)"
check "SIGTERM exits 0" stop_portsyncd
finish
