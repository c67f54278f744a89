#!/usr/bin/env bash
# bench/exporter/run-bench.sh BINDIR [SECONDS]: scrape benchmark of
# portsyncd-exporter on this machine. For a 1k- and a 10k-series segment
# (psm-loadgen, writer idle so the figures are the exporter's): keep-alive
# scrapes/s and latency p50/p99/p999, plain and gzip, the full-handshake rate,
# and the exporter's CPU per scrape and RSS. Baselines measured in the same run:
# /-/healthy over the same connections (TLS + HTTP without rendering) and
# psm_render alone (psm-bench); ratios and the issue's targets are printed.
set -euo pipefail
BIN=${1:?usage: $0 BINDIR [SECONDS]}
SECS=${2:-5}
source "$(dirname "$0")/../../tests/exporter/lib.sh" "$BIN"
NAME=bench
make_certs
run() { # run LABEL ARGS...: one pex-scrape run; prints its lines, sets R_* from RESULT
    local label=$1
    shift
    "$BIN/pex-scrape" --connect "[::1]:$EXP_PORT" --cert "$PKI/client.crt" --key "$PKI/client.key" \
        --ca "$PKI/ca.crt" --pid "$EXP_PID" "$@" >"$T/run.txt" 2>&1 || true
    local r
    r=$(grep '^RESULT' "$T/run.txt")
    for kv in $r; do
        case $kv in *=*) eval "R_${kv%%=*}=${kv#*=}" ;; esac
    done
    printf '  %-34s %8.0f/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  cpu %7.1f us/req  rss %5.1f MB%s\n' \
        "$label" "$R_rate" "$R_p50_ms" "$R_p99_ms" "$R_p999_ms" "$R_cpu_us" "$R_rss_mb" \
        "$([ "$R_errors" = 0 ] || echo "  ERRORS=$R_errors")"
}
verdict() { awk "BEGIN{exit !($1)}" && echo PASS || echo MISS; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

echo "portsyncd-exporter scrape benchmark: $(nproc) CPUs, ${SECS}s per run, TLS 1.3 mTLS"
echo "(TLS_AES_256_GCM_SHA384, P-384, ECDSA P-384), HTTP/1.1 keep-alive, writer idle"
if [ -x "$BIN/psm-bench" ]; then
    echo
    echo "baseline: psm_render alone (psm-bench --render-only --quick):"
    "$BIN/psm-bench" --render-only --quick 2>&1 | grep -E '^ +(1000|10000) ' || true
fi
for S in 1000 10000; do
    rm -f "/dev/shm/$SEG"
    start_writer --series "$S" --threads 0 --seconds 3600
    start_exporter "$T/exp-$S.log" --web.max-connections=1024 --web.max-requests=0
    echo
    echo "== $S series"
    run "/-/healthy, 4 conns (baseline)" --path /-/healthy --connections 4 --seconds "$SECS"
    base=$R_rate
    run "/metrics, 1 conn" --connections 1 --seconds "$SECS"
    run "/metrics, 4 conns" --connections 4 --seconds "$SECS"
    plain=$R_rate
    p99=$R_p99_ms
    rss=$R_rss_mb
    run "/metrics, 64 conns" --connections 64 --seconds "$SECS"
    run "/metrics gzip, 4 conns" --connections 4 --seconds "$SECS" --gzip
    gz=$R_rate
    run "/metrics OpenMetrics, 4 conns" --connections 4 --seconds "$SECS" --openmetrics
    run "new connection + /-/healthy, 4 thr" --path /-/healthy --connections 4 --seconds "$SECS" --new-connections
    hs=$R_rate
    echo "  ratios: /metrics vs /-/healthy $(ratio "$plain" "$base"); gzip vs plain $(ratio "$gz" "$plain");" \
        "full handshakes $hs/s vs keep-alive /-/healthy $(ratio "$hs" "$base")"
    if [ "$S" = 1000 ]; then
        echo "  targets (1k): >= 10000 scrapes/s keep-alive: $(verdict "$plain >= 10000") ($plain);" \
            "p99 <= 2 ms: $(verdict "$p99 <= 2") ($p99 ms); RSS <= 10 MB: $(verdict "$rss <= 10") ($rss MB)"
    fi
    stop_exporter
    kill "$W_PID" 2>/dev/null || true
    wait "$W_PID" 2>/dev/null || true
done
