#!/usr/bin/env bash
# portsyncd started while another live writer (psm-loadgen) holds the segment
# name: ports are synced exactly, one ERROR line names the cause and the remedy,
# portsyncd keeps running with its metrics in private memory; once the other
# writer is gone the segment holds portsyncd's metrics, including what it
# counted before.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4
start_consumer
"$BIN/psm-loadgen" --name "$SEG" --series 60 --threads 0 >>"$TMP/loadgen.log" 2>&1 &
LG=$!
PIDS+=($LG)
check "psm-loadgen holds the name" wait_for 10 bash -c "'$BIN/portsyncd-shmdump' --name $SEG --format prometheus | grep -q '^psm_loadgen_ops_total'"

start_portsyncd_ready
add_port 0
add_port 4
check "both ports in STATE_DB" wait_for 10 state_matches_kernel 0 4
for _ in 1 2; do
    ip -n "$NS" link set p0 down
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = down ]"
    ip -n "$NS" link set p0 up
    wait_for 5 bash -c "[ \"\$(redis-cli -s $SOCK -n 6 HGET 'PORT_TABLE|Ethernet0' netdev_oper_status)\" = up ]"
done
check "STATE_DB matches the kernel exactly after two flaps" state_matches_kernel 0 4
expect_eq "exactly one ERROR line" 1 "$(grep -c ' ERROR: ' "$TMP/portsyncd.log")"
check "it names the cause" grep -q 'ERROR: metrics segment .* in use by another writer, pid '"$LG" "$TMP/portsyncd.log"
check "and the remedy" grep -q 'another --shm-name' "$TMP/portsyncd.log"
check "portsyncd keeps running" kill -0 "$PCD_PID"
check "the segment is still psm-loadgen's" bash -c "'$BIN/portsyncd-shmdump' --name $SEG --format prometheus | grep -q '^psm_loadgen_ops_total' && ! '$BIN/portsyncd-shmdump' --name $SEG --format prometheus | grep -q '^portsyncd_'"

kill -KILL "$LG"
t0=$(date +%s%N)
check "within 10 s the segment holds portsyncd's metrics" wait_for 10 metric_is 'portsyncd_port_flaps_total{port="Ethernet0"}' 2
echo "     (published $(( ($(date +%s%N) - t0) / 1000000 )) ms after psm-loadgen was killed)"
check "with the events counted before" bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name $SEG --format prometheus | awk '\$1 == \"portsyncd_events_processed_total\" {print \$2}')\" -ge 6 ]"
check "publishing is logged once" bash -c "[ \$(grep -c 'metrics segment .*: published' '$TMP/portsyncd.log') = 1 ]"
check "healthy once the metrics are public" wait_for 5 metric_is portsyncd_health_status 1
check "the writer is portsyncd" bash -c "'$BIN/portsyncd-shmdump' --name $SEG | grep -q 'pid $PCD_PID'"
ip -n "$NS" link set p0 down
check "the handles update the published segment" wait_for 5 metric_is 'portsyncd_port_flaps_total{port="Ethernet0"}' 3
check "and sync goes on" wait_for 5 state_matches_kernel 0 4
expect_eq "still exactly one ERROR line" 1 "$(grep -c ' ERROR: ' "$TMP/portsyncd.log")"
check "exits 0 on SIGTERM" stop_portsyncd
finish
