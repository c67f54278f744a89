#!/usr/bin/env bash
# portsyncd-shmdump against real segments in /dev/shm: every format, --check,
# --watch, and one clear line with exit 1 for each kind of bad segment.
source "$(dirname "$0")/lib.sh"
D="$BIN/portsyncd-shmdump"
out=$TMP/out
err=$TMP/err

# expect_fail CODE NEEDLE ARGS...: exits CODE, stderr is one line containing NEEDLE
expect_fail() {
    local code=$1 needle=$2
    shift 2
    local rc=0
    "$D" "$@" >"$out" 2>"$err" || rc=$?
    if [ "$rc" -eq "$code" ] && grep -qF -- "$needle" "$err" && [ "$(wc -l <"$err")" -eq 1 ]; then
        ok "$* -> exit $code: $(cat "$err")"
    else
        not_ok "$* -> exit $rc (want $code), stderr: $(cat "$err") (want '$needle')"
    fi
}

"$BIN/psm-fixture" --name "$SEG" --close
check "--check on a good segment exits 0" "$D" --name "$SEG" --check
check "table names every family" bash -c "'$D' --name '$SEG' | grep -q fixture_event_latency_seconds"
check "json parses" bash -c "'$D' --name '$SEG' --format json | /usr/bin/python3 -m json.tool >/dev/null"
check "json holds the counter value" bash -c "'$D' --name '$SEG' --format json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
m = {x[\"name\"]: x for x in d[\"metrics\"]}
assert m[\"fixture_events_processed_total\"][\"series\"][0][\"value\"] == 1234
assert d[\"writer\"][\"alive\"] is False
'"
check "json holds native buckets that add up to each count" bash -c "'$D' --name '$SEG' --format json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
m = {x[\"name\"]: x for x in d[\"metrics\"]}
h = m[\"fixture_event_latency_seconds\"]
assert h[\"native\"] == {\"schema\": 3, \"zero_threshold\": 2 ** -20, \"first_index\": -159, \"bucket_count\": 187}, h[\"native\"]
for s in h[\"series\"]:
    n = s[\"native\"]
    assert n[\"zero_count\"] + sum(b[\"count\"] for b in n[\"buckets\"]) == s[\"count\"] == 50
    for b in n[\"buckets\"]:
        assert abs(b[\"upper\"] / b[\"lower\"] - 2 ** 0.125) < 1e-12 and b[\"count\"] > 0
r = m[\"fixture_rtt_seconds\"][\"series\"][0][\"native\"]
assert r[\"zero_count\"] == 2 and r[\"buckets\"][-1][\"index\"] == 27, r
assert \"native\" not in m[\"fixture_temperature_delta\"], \"classic-only histograms: no native key\"
'"
check "table shows p50 p90 p99 from native buckets" bash -c \
    "'$D' --name '$SEG' | grep -E '^fixture_event_latency_seconds\\{port=\"Ethernet0\"\\} .* p50 0\\.0178  p90 0\\.032  p99 0\\.0364\$'"
check "--shm-name is an alias of --name" "$D" --shm-name "$SEG" --check

# --watch redraws until SIGTERM, then exits 0
"$D" --name "$SEG" --watch 0.2 >"$out" 2>&1 &
w=$!
sleep 0.7
kill -TERM $w
rc=0
wait $w || rc=$?
check "--watch exits 0 on SIGTERM (rc=$rc)" test $rc -eq 0
check "--watch drew more than one frame" test "$(grep -c 'fixture_events_processed_total' "$out")" -ge 2

# Usage errors: exit 2
expect_fail 2 "--format 'xml' is not one of table, prometheus, openmetrics, json, protobuf" --name "$SEG" --format xml
expect_fail 2 "--watch" --name "$SEG" --watch -1
expect_fail 2 "unknown option" --bogus

# Bad segments: exit 1, one clear line each
expect_fail 1 "no such segment" --name "$SEG-missing" --check
good=/dev/shm/$SEG
bad=/dev/shm/$SEG.bad
on_exit "rm -f $bad"
: >"$bad"
expect_fail 1 "empty (0 bytes)" --name "$SEG.bad" --check
head -c 100 "$good" >"$bad"
expect_fail 1 "truncated header: 100 bytes" --name "$SEG.bad" --check
cp "$good" "$bad"; printf 'NOTMAGIC' | dd of="$bad" bs=1 seek=0 conv=notrunc status=none
expect_fail 1 "wrong magic" --name "$SEG.bad" --check
cp "$good" "$bad"; printf '\x02\x00' | dd of="$bad" bs=1 seek=8 conv=notrunc status=none
expect_fail 1 "unsupported format version 2.2" --name "$SEG.bad"
cp "$good" "$bad"; truncate -s 8192 "$bad"
expect_fail 1 "truncated: header says" --name "$SEG.bad" --format prometheus
cp "$good" "$bad"; printf '\xff\xff\xff\x00' | dd of="$bad" bs=1 seek=84 conv=notrunc status=none
expect_fail 1 "series count 16777215 is larger than the series table" --name "$SEG.bad" --check
cp "$good" "$bad"; printf '\x07' | dd of="$bad" bs=1 seek=32 conv=notrunc status=none
expect_fail 1 "generation 7 is odd" --name "$SEG.bad" --check

# What an unprivileged local user can plant at a segment's path (/dev/shm is
# world-writable): each is refused within 5 s (no hang) with one line saying what
# was found, exit 1.
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
# expect_refused NEEDLE NAME ARGS...: shmdump exits 1 within 5 s, one line with NEEDLE
expect_refused() {
    local needle=$1 name=$2
    shift 2
    local rc=0
    timeout 5 "$D" --name "$name" "$@" --check >"$out" 2>"$err" || rc=$?
    if [ "$rc" -eq 1 ] && grep -qF -- "$needle" "$err" && [ "$(wc -l <"$err")" -eq 1 ]; then
        ok "$name -> exit 1: $(cat "$err")"
    else
        not_ok "$name -> exit $rc (want 1; 124 = hung), stderr: $(cat "$err") (want '$needle')"
    fi
}
planted=/dev/shm/$SEG.planted
on_exit "rm -rf $planted"
"${NOBODY[@]}" mkfifo "$planted"
expect_refused "/dev/shm/$SEG.planted is a FIFO" "$SEG.planted"
rm -f "$planted"
"${NOBODY[@]}" mkdir "$planted"
expect_refused "/dev/shm/$SEG.planted is a directory" "$SEG.planted"
rmdir "$planted"
"${NOBODY[@]}" ln -s "$good" "$planted"
expect_refused "/dev/shm/$SEG.planted is a symbolic link" "$SEG.planted"
rm -f "$planted"
# A well-formed segment, made by nobody: a copy of the good one.
readable=$(mktemp) # not in $TMP: nobody must read it
on_exit "rm -f $readable"
cp "$good" "$readable"
chmod 644 "$readable"
"${NOBODY[@]}" cp "$readable" "$planted"
check "the planted segment is nobody's" test "$(stat -c %U "$planted")" = nobody
expect_refused "is owned by uid 65534 (nobody), expected uid 0 (root)" "$SEG.planted"
check "--shm-owner nobody accepts nobody's segment" "$D" --name "$SEG.planted" --shm-owner nobody --check
check "--shm-owner 65534 (a uid) accepts it too" "$D" --name "$SEG.planted" --shm-owner 65534 --check
expect_refused "is owned by uid 0 (root), expected uid 65534 (nobody)" "$SEG" --shm-owner nobody
"${NOBODY[@]}" chmod 666 "$planted"
expect_refused "has mode 0666: group or others may write it" "$SEG.planted" --shm-owner nobody
rm -f "$planted"
expect_fail 2 "--shm-owner: owner 'no-such-user-psm' is not a known user" --name "$SEG" --shm-owner no-such-user-psm
expect_fail 2 "--max-age" --name "$SEG" --max-age 0

# A segment at an absolute path outside /dev/shm (a disk filesystem here).
dir=$(mktemp -d /var/tmp/psm-it-shmdump.XXXXXX)
on_exit "rm -rf $dir"
cp "$good" "$dir/metrics"
check "--name accepts an absolute path" "$D" --name "$dir/metrics" --check
check "the table names the path" bash -c "'$D' --name '$dir/metrics' | grep -qF 'segment      $dir/metrics (inode'"
check "json gives the path" bash -c "'$D' --name '$dir/metrics' --format json | /usr/bin/python3 -c '
import json, sys
assert json.load(sys.stdin)[\"segment\"][\"path\"] == \"$dir/metrics\"'"
expect_fail 2 "is invalid" --name "relative/metrics"

# Liveness across PID namespaces: a live writer (psm-loadgen) seen from a new PID
# namespace with its own /proc, as an exporter sidecar container sees portsyncd.
LG=$SEG.lg
"$BIN/psm-loadgen" --name "$LG" --series 30 --threads 1 --seconds 120 2>/dev/null &
lg=$!
on_exit "kill $lg 2>/dev/null"
for _ in $(seq 1 100); do "$D" --name "$LG" --check >/dev/null 2>&1 && break; sleep 0.1; done
# writer_json MAX_AGE [unshare...]: one JSON snapshot's writer verdict, as the line
# "alive method heartbeat_age reason"
writer_json() {
    local max_age=$1
    shift
    "$@" "$D" --name "$LG" --format json --max-age "$max_age" | /usr/bin/python3 -c '
import json, sys
w = json.load(sys.stdin)["writer"]
print(w["alive"], w["liveness_method"], w["heartbeat_age_seconds"], w["reason"])'
}
INNS=(unshare --pid --fork --mount-proc)
read -r alive method age _ < <(writer_json 5) || true
check "same namespace: alive by pid ($alive $method)" test "$alive $method" = "True pid"
read -r alive method age _ < <(writer_json 5 "${INNS[@]}") || true
check "other PID namespace: alive by heartbeat ($alive $method, age $age)" test "$alive $method" = "True heartbeat"
check "the table says how liveness was judged" bash -c "${INNS[*]} '$D' --name '$LG' | grep -q '^liveness     by heartbeat alone (max age 5 s): the writer.s PID namespace pid:\\[[0-9]*\\] is not ours'"
check "--check says it too" bash -c "${INNS[*]} '$D' --name '$LG' --check | grep -q 'alive, liveness by heartbeat)'"
kill -KILL $lg
wait $lg 2>/dev/null || true
read -r alive method _ reason < <(writer_json 1) || true
check "same namespace: dead at once, by pid ($alive $method: $reason)" \
    test "$alive $method $reason" = "False pid the writer process no longer exists"
# From the other namespace only the heartbeat tells: dead once it is older than 1 s.
alive=True method= age= reason=
for _ in $(seq 1 50); do
    read -r alive method age reason < <(writer_json 1 "${INNS[@]}") || true
    [ "$alive" = False ] && break
    sleep 0.2
done
check "other PID namespace: dead by heartbeat ($alive $method, age $age: $reason)" \
    test "$alive $method" = "False heartbeat"
check "...because the heartbeat is stale" grep -q "^the writer's heartbeat is stale" <<<"$reason"
check "...and only once it is older than the max age (${age} s > 1 s)" \
    /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 1.0 else 1)" "$age"

# Permission denied: an unprivileged user outside the segment's group
if command -v setpriv >/dev/null; then
    rc=0
    setpriv --reuid=65534 --regid=65534 --clear-groups "$D" --name "$SEG" --check >"$out" 2>"$err" || rc=$?
    check "permission denied for a user outside the group (rc=$rc): $(cat "$err")" \
        bash -c "[ $rc -eq 1 ] && grep -q 'permission denied' '$err'"
fi
finish
