#!/usr/bin/env bash
# Clients that stop reading cannot lock good scrapers out. While attackers with
# valid client certificates park responses (HTTP/2 streams whose flow-control
# window is 0; HTTP/1.1 requests whose responses are never read), a good
# scraper that scrapes every 0.25 s gets 200 for >= 99 % of its scrapes, and
# the exporter closes the stalled connections after --web.stall-timeout,
# counts and logs them.
source "$(dirname "$0")/lib.sh"

make_certs
H2C="$PY $(dirname "$0")/h2client.py"
PYC="$PY $(dirname "$0")/pyclient.py"
SECS=30

# good_scraper SECONDS OUTFILE CURL-ARGS...: one scrape every 0.25 s on a new
# connection, one status code per line (000: no answer)
good_scraper() {
    local secs=$1 out=$2
    shift 2
    local end=$((SECONDS + secs))
    : >"$out"
    while [ $SECONDS -lt $end ]; do
        pcurl client -o /dev/null -w '%{http_code}\n' "$@" "$(url /metrics)" >>"$out" 2>/dev/null ||
            echo 000 >>"$out"
        sleep 0.25
    done
}
# judge WHAT FILE: >= 99 % of the scrapes in FILE are 200
judge() {
    local what=$1 f=$2 n good
    n=$(grep -c . "$f" || true)
    good=$(grep -c '^200$' "$f" || true)
    check "$what: $good of $n good scrapes got 200 ($(sort "$f" | uniq -c | tr -s ' \n' ' '))" \
        awk "BEGIN{exit !($n >= 60 && $good * 100 >= 99 * $n)}"
}
metric() { pcurl client "$(url /metrics)" | sed -n "s/^$1 //p"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$EXP_PID/status"; }

# --- HTTP/2: 12 connections x 4 streams with SETTINGS_INITIAL_WINDOW_SIZE 0 -----------
start_writer --series 1000 --threads 1 --seconds 600
start_exporter "$T/exp-h2.log"
$H2C stall "$EXP_PORT" "$PKI" 12 4 "$SECS" >"$T/h2stall.txt" 2>&1 &
att=$!
for i in $(seq 1 200); do grep -q 'window 0' "$T/h2stall.txt" && break; sleep 0.05; done
head -n 1 "$T/h2stall.txt"
good_scraper "$SECS" "$T/good-h2.txt" --http2
rss=$(rss_kb)
wait "$att" || true
tail -n 1 "$T/h2stall.txt"
judge "HTTP/2 zero-window attack" "$T/good-h2.txt"
check "the attackers' responses were started (HEADERS) but got no DATA: $(tail -n 1 "$T/h2stall.txt")" \
    grep -Eq 'responses_started=[1-9][0-9]* data_bytes=0$' "$T/h2stall.txt"
n=$(metric 'portsyncd_exporter_connections_closed_total{reason="stalled_response"}')
check "stalled HTTP/2 connections closed and counted ($n >= 12)" test "${n:-0}" -ge 12
check "the attacker saw its connections closed by the server" \
    grep -Eq 'closed_by_server=(1[2-9]|[2-9][0-9]|[0-9]{3,})' "$T/h2stall.txt"
check "stalled connections are logged" grep -q 'stalled' "$T/exp-h2.log"
echo "exporter RSS during the HTTP/2 attack: $((rss / 1024)) MB"
stop_exporter
check "exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0
kill "$W_PID" 2>/dev/null || true
wait "$W_PID" 2>/dev/null || true

# --- HTTP/1.1: 48 connections that send a request and never read, at 10k series ------
rm -f "/dev/shm/$SEG"
start_writer --series 10000 --threads 1 --seconds 600
start_exporter "$T/exp-h1.log"
$PYC nonreader "$EXP_PORT" "$PKI" 48 12 "$SECS" >"$T/h1stall.txt" 2>&1 &
att=$!
for i in $(seq 1 400); do grep -q 'not reading' "$T/h1stall.txt" && break; sleep 0.05; done
head -n 1 "$T/h1stall.txt"
good_scraper "$SECS" "$T/good-h1.txt" --http1.1
rss=$(rss_kb)
wait "$att" || true
tail -n 1 "$T/h1stall.txt"
judge "HTTP/1.1 non-readers at 10k series" "$T/good-h1.txt"
n=$(metric 'portsyncd_exporter_connections_closed_total{reason="stalled_response"}')
check "stalled HTTP/1.1 connections closed and counted ($n >= 48)" test "${n:-0}" -ge 48
echo "exporter RSS during the HTTP/1.1 attack: $((rss / 1024)) MB"
stop_exporter
check "exporter exits 0 (rc=$EXP_RC)" test "$EXP_RC" -eq 0
finish
