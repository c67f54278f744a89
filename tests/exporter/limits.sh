#!/usr/bin/env bash
# Limits: slowloris clients and connection floods do not stop a well-behaved
# scraper from getting 200s; the first-request and header deadlines close
# stalled connections; an idle keep-alive connection survives them; the
# connection limit evicts connections that never sent a request.
source "$(dirname "$0")/lib.sh"

make_certs
start_writer --series 200 --threads 1 --seconds 600
start_exporter "$T/exp.log" --web.request-timeout=2s --web.max-connections=40
PYC="$PY $(dirname "$0")/pyclient.py"

out=$($PYC idle "$EXP_PORT" "$PKI" 8 2>&1) && rc=0 || rc=$?
secs=$(echo "$out" | sed -n 's/.*after \([0-9.]*\) s.*/\1/p')
check "authenticated connection without a request closed by the deadline: $out" \
    bash -c "[ $rc -eq 0 ] && awk 'BEGIN{exit !($secs >= 1.5 && $secs < 4)}'"
out=$($PYC keepidle "$EXP_PORT" "$PKI" 4 2>&1) && rc=0 || rc=$?
check "idle keep-alive connection outlives the 2 s request deadline: $out" test "$rc" -eq 0

# A well-behaved scraper: one keep-alive connection and fresh connections, for
# the whole attack; both must see only 200s.
"$BIN/pex-scrape" --connect "[::1]:$EXP_PORT" --cert "$PKI/client.crt" --key "$PKI/client.key" \
    --ca "$PKI/ca.crt" --connections 1 --seconds 12 >"$T/keepalive.txt" 2>&1 &
ka=$!
(
    end=$((SECONDS + 12))
    while [ $SECONDS -lt $end ]; do
        http_code client /metrics
        echo
        sleep 0.2
    done
) >"$T/fresh.txt" &
fresh=$!
# The attack: slowloris with valid certificates, floods of silent TCP
# connections and of half-sent ClientHellos, in waves.
$PYC slowloris "$EXP_PORT" "$PKI" 10 8 >"$T/slowloris.txt" 2>&1 &
slow=$!
for wave in 1 2 3; do
    $PYC hold "$EXP_PORT" "$PKI" 80 3 tcp >>"$T/flood.txt" 2>&1 &
    $PYC hold "$EXP_PORT" "$PKI" 40 3 hello >>"$T/flood.txt" 2>&1
    wait $! 2>/dev/null || true
done
rc=0
wait "$slow" || rc=$?
check "slowloris: every connection closed by the server ($(cat "$T/slowloris.txt"))" test "$rc" -eq 0
wait "$ka" || true
wait "$fresh" || true
cat "$T/keepalive.txt"
check "keep-alive scraper during the attack: all 200" grep -q 'errors=0 violations=0' "$T/keepalive.txt"
n=$(grep -c . "$T/fresh.txt")
bad=$(grep -vc '^200$' "$T/fresh.txt" || true)
check "new-connection scraper during the attack: $n scrapes, $bad not 200" test "$bad" -eq 0 -a "$n" -gt 10
cat "$T/flood.txt"
pcurl client "$(url /metrics)" >"$T/m.txt"
v() { sed -n "s/^$1 //p" "$T/m.txt"; }
check "header deadline closed the slowloris connections ($(v 'portsyncd_exporter_connections_closed_total{reason="header_timeout"}'))" \
    test "$(v 'portsyncd_exporter_connections_closed_total{reason="header_timeout"}')" -ge 10
opened=$(awk '{n += $4} END {print n}' "$T/flood.txt")
closed=$(awk '{n += $2} END {print n}' "$T/flood.txt")
check "every flood connection was closed by the server ($closed of $opened)" test "$closed" -eq "$opened" -a "$opened" -ge 300
reclaimed=$(($(v 'portsyncd_exporter_connections_closed_total{reason="evicted"}') + $(v 'portsyncd_exporter_connections_closed_total{reason="first_request_timeout"}')))
check "flood connections evicted or cut at the first-request deadline ($reclaimed)" test "$reclaimed" -ge 40
check "handshakes cut short were counted as failures" \
    test "$(v 'portsyncd_exporter_tls_handshake_failures_total{reason="evicted"}')" -ge 1
check "connections back to normal after the attack ($(v portsyncd_exporter_connections))" \
    test "$(v portsyncd_exporter_connections)" -le 3
stop_exporter
check "exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
