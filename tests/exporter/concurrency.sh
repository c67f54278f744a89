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
# Text and gzip'd OpenMetrics scrapers at once: batches that mix formats and
# encodings must give each scraper its own variant.
rc=0 rc2=0
scrape --connections 8 --requests 100 >"$T/run3.txt" 2>&1 &
p3=$!
scrape --connections 8 --requests 100 --gzip --openmetrics >"$T/run4.txt" 2>&1 || rc2=$?
wait "$p3" || rc=$?
cat "$T/run3.txt" "$T/run4.txt"
check "text and gzip OpenMetrics scrapers at once: all 200 and consistent (rc=$rc, $rc2)" \
    test "$rc" -eq 0 -a "$rc2" -eq 0
check "the writer was running throughout" kill -0 "$W_PID"
pcurl client "$(url /metrics)" >"$T/self.txt"
n=$(sed -n 's/^portsyncd_exporter_tls_handshakes_total //p' "$T/self.txt")
check "keep-alive: 96 connections, $n handshakes (<= 97)" test "$n" -le 97
# Concurrent scrapes share renders: fewer renders than scrapes answered.
renders=$(sed -n 's/^portsyncd_exporter_scrape_renders_total //p' "$T/self.txt")
scrapes=$(sed -n 's/^portsyncd_exporter_scrapes_total{code="200"} //p' "$T/self.txt")
check "scrapes that arrived together shared renders: $renders renders for $scrapes scrapes" \
    test "$renders" -ge 1 -a "$renders" -lt "$scrapes"
stop_exporter
check "exporter exits 0 after the load (rc=$EXP_RC)" test "$EXP_RC" -eq 0

# A large segment (10k series, ~2.6 MB per body) scraped by 64 connections at
# once: one loop iteration may hand h2o at most 4 MiB of bodies, so the unsent
# TLS output stays bounded (without that bound the RSS reached ~145 MB here).
"$BIN/psm-loadgen" --name "$SEG-big" --series 10000 --threads 0 --seconds 600 >"$T/big.log" 2>&1 &
track_pid $!
on_exit "rm -f /dev/shm/$SEG-big"
for i in $(seq 1 200); do grep -q . "$T/big.log" && break; sleep 0.05; done
start_exporter "$T/exp-big.log" --web.max-requests=0 --shm-name="$SEG-big"
pid=$EXP_PID
rc=0
scrape --connections 64 --requests 8 >"$T/big.txt" 2>&1 || rc=$?
tail -n 2 "$T/big.txt"
check "64 x 8 scrapes of a 10k-series segment: all 200 and consistent (rc=$rc)" test "$rc" -eq 0
rss=$(sed -n 's/.* rss_mb=\([0-9.]*\).*/\1/p' "$T/big.txt")
if [ -z "${PSM_SANITIZE:-}" ]; then
    check "RSS after 64 simultaneous 2.6 MB scrapes stays bounded: $rss MB (<= 48)" \
        awk "BEGIN{exit !($rss > 0 && $rss <= 48)}"
else
    echo "skip - RSS bound not checked under sanitizers (PSM_SANITIZE=$PSM_SANITIZE; RSS $rss MB)"
fi
stop_exporter
finish
