#!/usr/bin/env bash
# bench/exporter/vs-nginx.sh BINDIR [SECONDS] [ROUNDS] - the exporter's scrape
# rate against nginx serving the same exposition bytes as a static file, with
# the same TLS 1.3 mutual-TLS setup (TLS_AES_256_GCM_SHA384, P-384, ECDSA
# P-384 + SHA-384, client certificate required), 4 keep-alive connections from
# pex-scrape, at 100 and 1,000 series (psm-loadgen, writer idle). nginx runs
# twice: one process (master_process off: one event loop, as the exporter has)
# and as usually deployed (worker_processes auto: one worker per CPU, here 2,
# so it can use both cores and the exporter cannot). Runs alternate exporter /
# nginx x1 / nginx auto, ROUNDS times (default 3); medians and ratios. Then the exporter's CPU per scrape of
# portsyncd's real segment at 32 and 512 ports (a namespace of veths, a
# redis-server, pcd-consumer, portsyncd). Needs root and nginx (nginx-light).
set -euo pipefail
B=${1:?usage: $0 BINDIR [SECONDS] [ROUNDS]}
SECS=${2:-3}
ROUNDS=${3:-3}
source "$(dirname "$0")/../../tests/exporter/lib.sh" "$B"
command -v nginx >/dev/null || { echo "vs-nginx.sh: nginx is not installed (apt-get install nginx-light)" >&2; exit 2; }
make_certs

scrape() { # scrape PORT PID: one pex-scrape run; sets R_* from its RESULT line
    "$BIN/pex-scrape" --connect "[::1]:$1" --cert "$PKI/client.crt" --key "$PKI/client.key" \
        --ca "$PKI/ca.crt" --pid "$2" --connections 4 --seconds "$SECS" >"$T/run.txt" 2>&1 || true
    local kv
    for kv in $(grep '^RESULT' "$T/run.txt"); do
        case $kv in *=*) eval "R_${kv%%=*}=${kv#*=}" ;; esac
    done
    R_kb=$(sed -n 's/.* \([0-9.]*\) KB\/response.*/\1/p' "$T/run.txt")
    [ "${R_errors:-1}" = 0 ] || { echo "vs-nginx.sh: scrape errors:" >&2; cat "$T/run.txt" >&2; exit 1; }
}
med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

start_nginx() { # start_nginx FILE MODE: nginx serving FILE as /metrics (MODE one|auto); sets NGX, NGX_PORT
    local d=$T/ngx-$2 master=off
    [ "$2" = auto ] && master=on
    mkdir -p "$T/www" "$d"
    cp "$1" "$T/www/metrics"
    NGX_PORT=$(free_port)
    cat >"$d/nginx.conf" <<CONF
daemon off;
master_process $master;
# Workers read the file from the test's private (0700) temp dir.
user root;
worker_processes auto;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    types { }
    default_type "text/plain; version=0.0.4; charset=utf-8";
    server {
        listen [::1]:$NGX_PORT ssl ipv6only=on;
        ssl_certificate $PKI/server.crt;
        ssl_certificate_key $PKI/server.key;
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384;
        ssl_conf_command SignatureAlgorithms ecdsa_secp384r1_sha384;
        ssl_ecdh_curve secp384r1;
        ssl_verify_client on;
        ssl_client_certificate $PKI/ca.crt;
        root $T/www;
        location = /metrics { }
    }
}
CONF
    nginx -c "$d/nginx.conf" -p "$d" >"$d/out.log" 2>&1 &
    NGX=$!
    track_pid "$NGX"
    for _ in $(seq 100); do
        pcurl client -o /dev/null "https://[::1]:$NGX_PORT/metrics" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "vs-nginx.sh: nginx did not start:" >&2
    cat "$d/out.log" "$d/error.log" >&2
    exit 1
}
stop_nginx() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "exporter vs nginx (static file): $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $SECS s per run, $ROUNDS rounds alternating;"
echo "TLS 1.3 mTLS TLS_AES_256_GCM_SHA384 / P-384 / ECDSA P-384, HTTP/1.1, 4 keep-alive connections, one process each"
for S in 100 1000; do
    rm -f "/dev/shm/$SEG"
    start_writer --series "$S" --threads 0 --seconds 3600
    start_exporter "$T/exp-$S.log" --web.max-connections=1024 --web.max-requests=0
    # The bytes nginx serves are what the exporter serves for this segment.
    pcurl client -o "$T/metrics-$S.txt" "$(url /metrics)"
    start_nginx "$T/metrics-$S.txt" one
    n1=$NGX n1p=$NGX_PORT
    start_nginx "$T/metrics-$S.txt" auto
    n2=$NGX n2p=$NGX_PORT
    e_rate='' e_cpu='' n1_rate='' n1_cpu='' n2_rate=''
    for r in $(seq "$ROUNDS"); do
        scrape "$EXP_PORT" "$EXP_PID"
        e_rate+=" $R_rate" e_cpu+=" $R_cpu_us" e_kb=$R_kb
        scrape "$n1p" "$n1"
        n1_rate+=" $R_rate" n1_cpu+=" $R_cpu_us" n_kb=$R_kb
        # The master's pid: its CPU is not the workers', only the rate counts here.
        scrape "$n2p" "$n2"
        n2_rate+=" $R_rate"
    done
    er=$(echo "$e_rate" | med) n1r=$(echo "$n1_rate" | med) n2r=$(echo "$n2_rate" | med)
    echo
    echo "== $S series, $(wc -c <"$T/metrics-$S.txt") bytes in the file; pex-scrape read $e_kb KB per response from the exporter, $n_kb KB from nginx"
    echo "  exporter /metrics (one event loop):  runs$e_rate /s; median $er /s, $(echo "$e_cpu" | med) us CPU per scrape"
    echo "  nginx static, one process:           runs$n1_rate /s; median $n1r /s, $(echo "$n1_cpu" | med) us CPU per scrape"
    echo "  nginx static, worker_processes auto: runs$n2_rate /s; median $n2r /s"
    echo "  ratio exporter / nginx: $(awk "BEGIN{printf \"%.2f\", $er / $n1r}") against one process," \
        "$(awk "BEGIN{printf \"%.2f\", $er / $n2r}") against auto (target >= 0.90; issue 13 measured 0.50 at 100 series, 0.68 at 1,000)"
    stop_nginx "$n1"
    stop_nginx "$n2"
    stop_exporter
    kill "$W_PID" 2>/dev/null || true
    wait "$W_PID" 2>/dev/null || true
done

# portsyncd's own segment: what a scrape of a real switch costs.
NS=pex-vs-$$
on_exit "ip netns del $NS 2>/dev/null || true"
start_redis
for P in 32 512; do
    redis-cli -s "$SOCK" FLUSHALL >/dev/null
    for i in $(seq 0 $((P - 1))); do echo "HSET PORT|Ethernet$((i * 4)) lanes $((i * 4)) speed 25000"; done |
        redis-cli -s "$SOCK" -n 4 >/dev/null
    ip netns add "$NS"
    "$BIN/pcd-consumer" --socket "$SOCK" >"$T/consumer.log" 2>&1 &
    cons=$!
    rm -f "/dev/shm/$SEG"
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$SEG" --log-level notice \
        --log-output STDERR >"$T/portsyncd-$P.log" 2>&1 &
    psd=$!
    wait_for 10 grep -q 'ready:' "$T/portsyncd-$P.log"
    for i in $(seq 0 $((P - 1))); do
        echo "link add Ethernet$((i * 4)) type veth peer name p$i"
        echo "link set p$i up"
        echo "link set Ethernet$((i * 4)) up"
    done | ip -n "$NS" -batch -
    wait_for 30 test "$(redis-cli -s "$SOCK" -n 0 HGET PORT_TABLE:PortInitDone lanes)" = 0
    start_exporter "$T/exp-psd-$P.log"
    scrape "$EXP_PORT" "$EXP_PID"
    echo
    echo "== portsyncd's segment, $P ports: $(pcurl client "$(url /metrics)" | grep -vc '^#') samples," \
        "$(pcurl client "$(url /metrics)" | wc -c) bytes"
    echo "  exporter: $R_rate scrapes/s on 4 connections, $R_cpu_us us CPU per scrape, p99 $R_p99_ms ms, RSS $R_rss_mb MB"
    stop_exporter
    kill -TERM "$psd" "$cons" 2>/dev/null || true
    wait "$psd" "$cons" 2>/dev/null || true
    ip netns del "$NS"
done
