#!/usr/bin/env bash
# portsyncd-shmdump against real segments in /dev/shm: every format, --check,
# --watch, and one clear line with exit 1 for each kind of bad segment.
source "$(dirname "$0")/lib.sh"
D="$BIN/portsyncd-shmdump"
out=$(mktemp)
err=$(mktemp)
on_exit "rm -f $out $err"

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
expect_fail 2 "--format 'xml' is not one of table, prometheus, openmetrics, json" --name "$SEG" --format xml
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
expect_fail 1 "unsupported format version 2.1" --name "$SEG.bad"
cp "$good" "$bad"; truncate -s 8192 "$bad"
expect_fail 1 "truncated: header says" --name "$SEG.bad" --format prometheus
cp "$good" "$bad"; printf '\xff\xff\xff\x00' | dd of="$bad" bs=1 seek=84 conv=notrunc status=none
expect_fail 1 "series count 16777215 is larger than the series table" --name "$SEG.bad" --check
cp "$good" "$bad"; printf '\x07' | dd of="$bad" bs=1 seek=32 conv=notrunc status=none
expect_fail 1 "generation 7 is odd" --name "$SEG.bad" --check

# Permission denied: an unprivileged user outside the segment's group
if command -v setpriv >/dev/null; then
    rc=0
    setpriv --reuid=65534 --regid=65534 --clear-groups "$D" --name "$SEG" --check >"$out" 2>"$err" || rc=$?
    check "permission denied for a user outside the group (rc=$rc): $(cat "$err")" \
        bash -c "[ $rc -eq 1 ] && grep -q 'permission denied' '$err'"
fi
finish
