#!/usr/bin/env bash
# The benchmark tools run: psm-loadgen writes a segment that passes --check while
# it is being hammered (the reader waits out preempted writers) and exits 0 on
# SIGTERM; --observe-value makes every histogram's sum exactly count * V;
# psm-bench --quick completes, and its warm renders of text and protobuf
# allocate nothing; portsyncd-bench.sh and portsyncd-scale.sh run on a few
# ports and end with STATE_DB equal to the kernel. (Figures are in
# bench/README.md, not checked here.)
source "$(dirname "$0")/lib.sh"
"$BIN/psm-loadgen" --name "$SEG" --series 999 --threads 2 --seconds 0 --observe-value 0.25 2>"$TMP/loadgen.log" &
lg=$!
track_pid $lg
for _ in $(seq 100); do [ -e "/dev/shm/$SEG" ] && break; sleep 0.05; done
sleep 0.5
check "--check passes on a segment under full-speed writes" "$BIN/portsyncd-shmdump" --name "$SEG" --check
check "every histogram has _sum == _count * 0.25" bash -c "'$BIN/portsyncd-shmdump' --name '$SEG' --format prometheus | awk '
    /^psm_loadgen_latency_seconds_sum/ { split(\$1, a, \"{\"); sum[a[2]] = \$2 }
    /^psm_loadgen_latency_seconds_count/ { split(\$1, a, \"{\"); cnt[a[2]] = \$2 }
    END { n = 0; for (k in cnt) { n++; if (sum[k] != cnt[k] * 0.25) exit 1 } exit n == 0 }'"
kill -TERM $lg
rc=0
wait $lg || rc=$?
check "psm-loadgen exits 0 on SIGTERM (rc=$rc)" test $rc -eq 0
check "psm-bench --quick runs" bash -c "'$BIN/psm-bench' --quick >'$TMP/bench.txt'"
# Counted, not timed, so it holds on a loaded machine: no warm render, text or protobuf, allocates.
check "warm renders (text and protobuf) allocate nothing" \
    grep -q '^heap allocations by warm renders, text and protobuf .*: 0 PASS' "$TMP/bench.txt"
check "the protobuf render carries native buckets for every histogram" \
    grep -q '^ *100000 protobuf ' "$TMP/bench.txt"
BENCH=$(cd "$(dirname "$0")/../../bench" && pwd)
rc=0
PORTS=4 SAMPLES=16 RATES=100,0 SECONDS_PER_RATE=0.5 ROUNDS=1 bash "$BENCH/portsyncd-bench.sh" "$BIN" \
    >"$TMP/pcd-bench.log" 2>&1 || rc=$?
check "portsyncd-bench.sh exits 0 (rc=$rc)" test $rc -eq 0
check "portsyncd-bench.sh: final state correct in every phase" grep -q 'final state correct in every phase: yes' "$TMP/pcd-bench.log"
check "portsyncd-bench.sh prints CPU per link change for both processes" \
    grep -q 'CPU/1k changes: portsyncd .* ms, redis-server .* ms, together' "$TMP/pcd-bench.log"
check "portsyncd-bench.sh prints the closed loop against the kernel alone" \
    grep -q 'closed loop vs the kernel alone: .*x' "$TMP/pcd-bench.log"
rc=0
PORTS=16 BURST=8 THREADS=2 ROUNDS=1 bash "$BENCH/portsyncd-scale.sh" "$BIN" >"$TMP/pcd-scale.log" 2>&1 || rc=$?
check "portsyncd-scale.sh exits 0 (rc=$rc)" test $rc -eq 0
check "portsyncd-scale.sh: every port exact after every burst, both buffer sizes" \
    test "$(grep -c 'every port exact after every burst: yes' "$TMP/pcd-scale.log")" = 2
finish
