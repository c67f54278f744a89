#!/usr/bin/env bash
# HTTP/2 stream limit: the exporter advertises in SETTINGS_MAX_CONCURRENT_STREAMS
# the limit it enforces (4 streams per connection), refuses streams beyond it
# with RST_STREAM REFUSED_STREAM (which a client may retry), and a client that
# honours the setting gets every answer.
source "$(dirname "$0")/lib.sh"

make_certs
H2C="$PY $(dirname "$0")/h2client.py"
"$BIN/psm-fixture" --name "$SEG" --close
start_exporter "$T/exp.log"

out=$($H2C settings "$EXP_PORT" "$PKI" 2>&1) || true
check "SETTINGS_MAX_CONCURRENT_STREAMS is 4 ($out)" grep -q 'max_concurrent_streams=4 ' <<<"$out"
check "h2o's initial window is kept ($out)" grep -q 'initial_window_size=16777216$' <<<"$out"
# Eight streams sent before the server's SETTINGS can have arrived: the first
# four are answered, the others refused, not queued behind them.
out=$($H2C burst "$EXP_PORT" "$PKI" 8 2>&1) || true
check "8 streams at once: 4 answered, 4 refused with REFUSED_STREAM ($out)" \
    test "$out" = "burst: 8 streams: ok=4 refused=4"
out=$($H2C burst "$EXP_PORT" "$PKI" 4 2>&1) || true
check "4 streams at once: all answered ($out)" test "$out" = "burst: 4 streams: ok=4"
out=$(pcurl client --http2 -o /dev/null -w '%{http_code} %{http_version}' "$(url /metrics)")
check "curl over HTTP/2 after the bursts: $out" test "$out" = "200 2"
stop_exporter
check "exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
