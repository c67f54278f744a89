#!/usr/bin/env bash
# The Prometheus text exposition of a segment with every metric type passes
# `promtool check metrics` with no warnings at all.
source "$(dirname "$0")/lib.sh"

"$BIN/psm-fixture" --name "$SEG" --close
out=$TMP/exposition.txt
"$BIN/portsyncd-shmdump" --name "$SEG" --format prometheus >"$out"
check "exposition is not empty" test -s "$out"
lint=$(promtool check metrics <"$out" 2>&1) && rc=0 || rc=$?
check "promtool check metrics exits 0 (rc=$rc)" test "$rc" -eq 0
check "promtool prints no warning: '${lint}'" test -z "$lint"
check "histogram with +Inf bucket present" \
    grep -q 'fixture_event_latency_seconds_bucket{port="Ethernet0",le="+Inf"} 50' "$out"
check "escaped label value present" grep -qF 'reason="redis \"timeout\"\n\\x"' "$out"
check "NaN gauge spelled NaN" grep -qx 'fixture_queue_depth NaN' "$out"
check "unused family left out" bash -c "! grep -q fixture_unused_total '$out'"
finish
