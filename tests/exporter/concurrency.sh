#!/usr/bin/env bash
# 64 keep-alive scrapers x 200 scrapes while psm-loadgen updates the segment
# at full speed: every answer is 200, every body is consistent (histogram
# buckets cumulative, +Inf == _count) and no counter ever decreases between
# two scrapes on one connection. The checker is bench/exporter's pex-scrape.
source "$(dirname "$0")/lib.sh"

make_certs
start_writer --series 600 --threads 1 --seconds 600
start_exporter "$T/exp.log"
pid=$EXP_PID
scrape() {
    "$BIN/pex-scrape" --connect "[::1]:$EXP_PORT" --cert "$PKI/client.crt" --key "$PKI/client.key" \
        --ca "$PKI/ca.crt" --check --pid "$pid" "$@"
}
rc=0
scrape --connections 64 --requests 200 >"$T/run1.txt" 2>&1 || rc=$?
cat "$T/run1.txt"
check "64 x 200 keep-alive scrapes: every one 200, every body consistent (rc=$rc)" test "$rc" -eq 0
check "64 x 200: 12800 bodies checked" grep -q 'scrapes=12800 .* errors=0 violations=0' "$T/run1.txt"
rc=0
scrape --connections 16 --requests 50 --gzip --openmetrics >"$T/run2.txt" 2>&1 || rc=$?
cat "$T/run2.txt"
check "16 x 50 gzip OpenMetrics scrapes: all 200 and consistent (rc=$rc)" test "$rc" -eq 0
check "the writer was running throughout" kill -0 "$W_PID"
n=$(pcurl client "$(url /metrics)" | sed -n 's/^portsyncd_exporter_tls_handshakes_total //p')
check "keep-alive: 80 connections, $n handshakes (<= 81)" test "$n" -le 81
stop_exporter
check "exporter exits 0 after the load (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
