#!/usr/bin/env bash
# The segment's life as the exporter sees it: missing at start, appearing,
# its writer killed (readiness and liveness say so, /metrics still answers),
# recreated by a new writer (the exporter follows it), deleted, corrupt.
source "$(dirname "$0")/lib.sh"

make_certs
start_exporter "$T/exp.log" --writer.heartbeat-max-age=1s
metric() { pcurl client "$(url /metrics)" | sed -n "s/^$1 //p"; }

# 1. No segment yet.
check "no segment: /metrics answers 200" test "$(http_code client /metrics)" = 200
check "no segment: segment_mapped 0" test "$(metric portsyncd_exporter_segment_mapped)" = 0
check "no segment: writer_up 0" test "$(metric portsyncd_exporter_writer_up)" = 0
check "no segment: /-/ready 503" test "$(http_code client /-/ready)" = 503
check "no segment: /-/healthy 200" test "$(http_code client /-/healthy)" = 200
check "no segment: logged once, with the reason" test "$(grep -c "segment '$SEG' not available" "$T/exp.log")" = 1

# 2. The writer starts.
start_writer --series 300 --threads 1 --seconds 600
check_eventually "writer started: /-/ready 200" '[ "$(http_code client /-/ready)" = 200 ]'
check "writer started: writer_up 1" test "$(metric portsyncd_exporter_writer_up)" = 1
n1=$(pcurl client "$(url /metrics)" | grep -c '^psm_loadgen_' || true)
check "writer started: its series are served ($n1 lines)" test "$n1" -gt 300

# 3. The writer is killed.
kill -9 "$W_PID"
wait "$W_PID" 2>/dev/null || true
check_eventually "writer killed: /-/ready 503" '[ "$(http_code client /-/ready)" = 503 ]'
pcurl client "$(url /-/ready)" >"$T/ready.txt" || true
check "writer killed: readiness says why ($(cat "$T/ready.txt"))" grep -q 'Not ready' "$T/ready.txt"
check "writer killed: writer_up 0" test "$(metric portsyncd_exporter_writer_up)" = 0
check "writer killed: /metrics still 200" test "$(http_code client /metrics)" = 200
n2=$(pcurl client "$(url /metrics)" | grep -c '^psm_loadgen_' || true)
check "writer killed: last values still served ($n2 lines)" test "$n2" -eq "$n1"
a1=$(metric portsyncd_exporter_writer_heartbeat_age_seconds)
sleep 1.2
a2=$(metric portsyncd_exporter_writer_heartbeat_age_seconds)
check "writer killed: heartbeat age grows ($a1 -> $a2)" awk "BEGIN{exit !($a2 > $a1 + 1)}"

# 4. A new writer replaces the segment (psm-loadgen always builds a fresh one).
ino1=$(stat -c %i "/dev/shm/$SEG")
start_writer --series 100 --threads 1 --seconds 600
for i in $(seq 1 50); do [ "$(stat -c %i "/dev/shm/$SEG")" != "$ino1" ] && break; sleep 0.1; done
check_eventually "segment recreated: /-/ready 200" '[ "$(http_code client /-/ready)" = 200 ]'
check "segment recreated: remapped once" test "$(metric portsyncd_exporter_segment_remaps_total)" -ge 1
n3=$(pcurl client "$(url /metrics)" | grep -c '^psm_loadgen_' || true)
check "segment recreated: the new writer's series are served ($n3 < $n1)" test "$n3" -lt "$n1" -a "$n3" -gt 0
check "segment recreated: logged" grep -q "segment '$SEG' was replaced; mapped the new one" "$T/exp.log"

# 5. The writer closes cleanly and the segment is deleted: the old mapping stays.
kill -TERM "$W_PID"
wait "$W_PID" 2>/dev/null || true
check_eventually "clean writer exit: /-/ready 503" '[ "$(http_code client /-/ready)" = 503 ]'
rm -f "/dev/shm/$SEG"
check "segment deleted: /metrics still 200" test "$(http_code client /metrics)" = 200
check "segment deleted: still mapped (segments never shrink under a reader)" test "$(metric portsyncd_exporter_segment_mapped)" = 1
stop_exporter
check "exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0

# 6. A corrupt segment: served as missing, with the reason logged.
head -c 4096 /dev/urandom >"/dev/shm/$SEG"
chmod 640 "/dev/shm/$SEG"
start_exporter "$T/exp2.log"
check "corrupt segment: /metrics 200" test "$(http_code client /metrics)" = 200
check "corrupt segment: segment_mapped 0" test "$(metric portsyncd_exporter_segment_mapped)" = 0
check "corrupt segment: the reader's reason is logged" grep -q "segment '$SEG' not available: " "$T/exp2.log"
stop_exporter

# 7. A segment truncated in place while mapped (a writer never does this; its owner
#    could): no SIGBUS, the exporter drops the mapping and keeps serving.
rm -f "/dev/shm/$SEG"
"$BIN/psm-fixture" --name "$SEG" --hold 60 >"$T/fix.out" 2>&1 &
F_PID=$!
for i in $(seq 1 100); do grep -q ready "$T/fix.out" 2>/dev/null && break; sleep 0.05; done
start_exporter "$T/exp3.log"
check "truncation: served before" test "$(http_code client /metrics)" = 200
check "truncation: mapped before" test "$(metric portsyncd_exporter_segment_mapped)" = 1
truncate -s 4096 "/dev/shm/$SEG"
check "truncation: /metrics still 200" test "$(http_code client /metrics)" = 200
check "truncation: the exporter is alive" kill -0 "$EXP_PID"
check "truncation: logged as truncated" grep -q "truncated to 4096 bytes while mapped" "$T/exp3.log"
check "truncation: segment_mapped 0" test "$(metric portsyncd_exporter_segment_mapped)" = 0
kill "$F_PID" 2>/dev/null
wait "$F_PID" 2>/dev/null || true
stop_exporter
check "exporter exits 0 after the truncation (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
