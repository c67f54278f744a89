#!/usr/bin/env bash
# Segment trust and liveness as the exporter sees them. /dev/shm is world-
# writable: whatever a local user (nobody here) puts at the segment's path - a
# FIFO, a directory, a segment of their own - the exporter keeps answering
# every endpoint (/metrics 200 with its own families, /-/healthy 200,
# /-/ready 503), logs what it found once, and counts it by reason; a segment of
# the user named by --shm-owner is served. Across PID namespaces (the exporter
# under unshare) a live writer is judged by its heartbeat and said to be; a
# killed one is dead within the max age; a zombie writer in the exporter's own
# namespace is dead at once.
source "$(dirname "$0")/lib.sh"

make_certs
metric() { pcurl client "$(url /metrics)" | sed -n "s/^$1 //p"; }
serves_loadgen() { pcurl client "$(url /metrics)" | grep -q '^psm_loadgen_'; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
refused() { metric "portsyncd_exporter_segment_refused_total{reason=\"$1\"}"; }
# answers WHAT: every endpoint answers while nothing trusted is at the path
answers() {
    local what=$1
    check "$what: /metrics 200" test "$(http_code client /metrics)" = 200
    check "$what: segment_mapped 0" test "$(metric portsyncd_exporter_segment_mapped)" = 0
    check "$what: the exporter's own families are served" \
        test -n "$(metric 'portsyncd_exporter_scrapes_total{code="200"}')"
    check "$what: /-/healthy 200" test "$(http_code client /-/healthy)" = 200
    check "$what: /-/ready 503" test "$(http_code client /-/ready)" = 503
}
stop_checked() {
    local t0=$SECONDS
    stop_exporter
    check "$1: SIGTERM ends the exporter promptly (rc=$EXP_RC, $((SECONDS - t0)) s)" \
        test "$EXP_RC" -eq 0 -a $((SECONDS - t0)) -le 5
}

# --- a FIFO at the path: opening it must not block the event loop ---------------------
as_nobody mkfifo -m 666 "/dev/shm/$SEG"
start_exporter "$T/fifo.log"
answers "FIFO"
check "FIFO: logged once, naming the path and what is there" \
    test "$(grep -c "/dev/shm/$SEG.*FIFO" "$T/fifo.log")" = 1
check "FIFO: counted once (reason fifo) however often it is looked at" test "$(refused fifo)" = 1
stop_checked "FIFO"
rm -f "/dev/shm/$SEG"

# --- a directory ---------------------------------------------------------------------------
as_nobody mkdir -m 777 "/dev/shm/$SEG"
start_exporter "$T/dir.log"
answers "directory"
check "directory: logged, naming the path" grep -q "/dev/shm/$SEG.*director" "$T/dir.log"
check "directory: counted (reason directory)" test "$(refused directory)" = 1
stop_checked "directory"
rmdir "/dev/shm/$SEG"

# --- a segment made by another user (nobody), at the default root-only trust ----------
as_nobody "$BIN/psm-loadgen" --name "$SEG" --series 10 --threads 1 --seconds 120 >"$T/nobody.log" 2>&1 &
track_pid $!
N_PID=$!
for i in $(seq 1 100); do [ -e "/dev/shm/$SEG" ] && break; sleep 0.05; done
start_exporter "$T/foreign.log"
answers "nobody's segment"
check "nobody's segment: writer_up 0 (its figures are not served as portsyncd's)" \
    test "$(metric portsyncd_exporter_writer_up)" = 0
refute "nobody's segment: none of its series served" serves_loadgen
check "nobody's segment: logged with the owner" grep -Eq "/dev/shm/$SEG.*(uid 65534|nobody)" "$T/foreign.log"
check "nobody's segment: counted (reason foreign_owner)" test "$(refused foreign_owner)" = 1
stop_checked "nobody's segment"
# ... served when nobody is the configured writer
start_exporter "$T/owner.log" --shm-owner=nobody
check_eventually "--shm-owner=nobody: /-/ready 200" '[ "$(http_code client /-/ready)" = 200 ]'
check "--shm-owner=nobody: writer_up 1" test "$(metric portsyncd_exporter_writer_up)" = 1
check "--shm-owner=nobody: its series are served" serves_loadgen
stop_checked "--shm-owner=nobody"
kill "$N_PID" 2>/dev/null || true
wait "$N_PID" 2>/dev/null || true
rm -f "/dev/shm/$SEG"
out=$("$BIN/portsyncd-exporter" --shm-owner=no-such-user-$$ --check-config 2>&1) && rc=0 || rc=$?
check "--shm-owner of an unknown user: exit 2 naming it ($out)" \
    bash -c "[ $rc -eq 2 ] && grep -q 'no-such-user-$$' <<<'$out'"

# --- a root segment that group or others may write -------------------------------------
start_writer --series 10 --threads 1 --seconds 120
chmod 666 "/dev/shm/$SEG"
start_exporter "$T/mode.log"
answers "mode 0666"
check "mode 0666: logged with the mode" grep -q "/dev/shm/$SEG.*0666" "$T/mode.log"
check "mode 0666: counted (reason writable_by_others)" test "$(refused writable_by_others)" = 1
# The state changes when the file is fixed: mapped, and that is logged too.
chmod 640 "/dev/shm/$SEG"
check_eventually "mode fixed to 0640: /-/ready 200" '[ "$(http_code client /-/ready)" = 200 ]'
check "mode fixed: the mapping is logged" grep -q "segment '$SEG' mapped read-only" "$T/mode.log"
check "same PID namespace: liveness judged by pid" \
    test "$(metric 'portsyncd_exporter_writer_liveness_method{method="pid"}')" = 1
stop_checked "mode 0666"
kill "$W_PID" 2>/dev/null || true
wait "$W_PID" 2>/dev/null || true
rm -f "/dev/shm/$SEG"

# --- an absolute path outside /dev/shm -------------------------------------------------------
mkdir -m 755 "$T/seg"
P=$T/seg/metrics
# A segment file copied from /dev/shm (the writers here take shm names only).
"$BIN/psm-fixture" --name "$SEG" --close
install -m 640 "/dev/shm/$SEG" "$P"
rm -f "/dev/shm/$SEG"
start_exporter "$T/absexp.log" --shm-name="$P"
check_eventually "--shm-name=$P (absolute path): mapped" '[ "$(metric portsyncd_exporter_segment_mapped)" = 1 ]'
check "absolute path: its series are served" \
    bash -c "grep -q \"segment '$P' mapped read-only\" '$T/absexp.log'"
check "absolute path: ... and its figures" test "$(metric fixture_events_processed_total)" = 1234
stop_checked "absolute path"

# --- the exporter in its own PID namespace: heartbeat only --------------------------------
start_writer --series 10 --threads 1 --seconds 120
PEX_WRAP="unshare --pid --fork --mount-proc --kill-child=SIGTERM" \
    start_exporter "$T/ns.log" --writer.heartbeat-max-age=2s
check_eventually "other PID namespace: live writer -> /-/ready 200" '[ "$(http_code client /-/ready)" = 200 ]'
check "other PID namespace: writer_up 1" test "$(metric portsyncd_exporter_writer_up)" = 1
check "other PID namespace: liveness judged by heartbeat" \
    test "$(metric 'portsyncd_exporter_writer_liveness_method{method="heartbeat"}')" = 1
check "other PID namespace: ... not by pid" \
    test "$(metric 'portsyncd_exporter_writer_liveness_method{method="pid"}')" = 0
kill -9 "$W_PID"
wait "$W_PID" 2>/dev/null || true
t0=$(date +%s.%N)
check_eventually "other PID namespace: killed writer -> /-/ready 503 within the max age" \
    '[ "$(http_code client /-/ready)" = 503 ]' 40
t1=$(date +%s.%N)
echo "  (503 after $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s; max age 2 s)"
check "other PID namespace: writer_up 0" test "$(metric portsyncd_exporter_writer_up)" = 0
# unshare --fork does not pass SIGTERM on: signal the exporter inside.
kill -TERM "$(pgrep -P "$EXP_PID")"
stop_exporter
check "other PID namespace: the exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0
rm -f "/dev/shm/$SEG"

# --- a zombie writer in the exporter's namespace ---------------------------------------------
# The writer's parent is a process that never reaps it (bash exec'd into sleep).
bash -c "'$BIN/psm-loadgen' --name '$SEG' --series 10 --threads 1 --seconds 120 >'$T/z.log' 2>&1 & echo \$! >'$T/z.pid'; exec sleep 60" &
track_pid $!
for i in $(seq 1 100); do [ -e "/dev/shm/$SEG" ] && [ -s "$T/z.pid" ] && break; sleep 0.05; done
Z=$(cat "$T/z.pid")
start_exporter "$T/zombie.log" --writer.heartbeat-max-age=60s
check_eventually "zombie test: live writer -> /-/ready 200" '[ "$(http_code client /-/ready)" = 200 ]'
kill -9 "$Z"
for i in $(seq 1 50); do grep -q '^State:.*Z' "/proc/$Z/status" 2>/dev/null && break; sleep 0.05; done
check "the writer is a zombie now ($(grep '^State' "/proc/$Z/status" 2>/dev/null))" grep -q '^State:.*Z' "/proc/$Z/status"
check_eventually "zombie writer: /-/ready 503 at once, long before the 60 s max age" \
    '[ "$(http_code client /-/ready)" = 503 ]' 30
check "zombie writer: writer_up 0" test "$(metric portsyncd_exporter_writer_up)" = 0
stop_checked "zombie"
finish
