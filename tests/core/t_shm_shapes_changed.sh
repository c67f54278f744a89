#!/usr/bin/env bash
# An upgrade changed a metric: the segment holds portsyncd_event_latency_seconds
# with other buckets (psm-fixture --old-portsyncd, a dead writer). portsyncd
# replaces the segment, says which metric changed and that counters restart,
# and syncs as usual.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0
start_consumer
"$BIN/psm-fixture" --name "$SEG" --old-portsyncd
check "the old segment holds the old shapes" metric_is 'portsyncd_event_latency_seconds_bucket{le="5"}' 1
expect_eq "and the old counter" 77 "$(metric portsyncd_events_processed_total)"

start_portsyncd_ready
add_port 0
check "Ethernet0 in STATE_DB" wait_for 10 state_matches_kernel 0
check "portsyncd runs" kill -0 "$PCD_PID"
check "the replacement names the metric" grep -q 'WARN: metrics segment .*portsyncd_event_latency_seconds.* holds it with another type, labels or buckets.* (the metric changed in an upgrade): replacing it' "$TMP/portsyncd.log"
# The old release's histograms have no native buckets: that is said first.
check "and that it lacked native buckets" grep -q 'without the native buckets this build.s has' "$TMP/portsyncd.log"
check "and says counters restart" grep -q "counters restart from 0" "$TMP/portsyncd.log"
expect_eq "no ERROR line" 0 "$(grep -c ' ERROR: ' "$TMP/portsyncd.log")"
check "the segment has portsyncd's buckets now" wait_for 5 bash -c "'$BIN/portsyncd-shmdump' --name $SEG --format prometheus | grep -q '^portsyncd_event_latency_seconds_bucket{le=\"0.001\"}'"
check "and not the old ones" bash -c "! '$BIN/portsyncd-shmdump' --name $SEG --format prometheus | grep -q 'le=\"5\"'"
check "the counters restarted" bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name $SEG --format prometheus | awk '\$1 == \"portsyncd_events_processed_total\" {print \$2}')\" -lt 77 ]"
check "the segment passes --check" "$BIN/portsyncd-shmdump" --name "$SEG" --check
ip -n "$NS" link set p0 down
check "sync unaffected" wait_for 5 state_matches_kernel 0
check "exits 0 on SIGTERM" stop_portsyncd
finish
