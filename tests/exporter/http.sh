#!/usr/bin/env bash
# HTTP behaviour: content negotiation (text 0.0.4 by default, OpenMetrics 1.0
# for Prometheus 2.x's Accept header), gzip, HEAD, 404/405/431, landing page,
# health and readiness, no version in any Server header, the exporter's own
# metrics, promtool and the python OpenMetrics parser, and 503 at the
# concurrent request limit.
source "$(dirname "$0")/lib.sh"

make_certs
"$BIN/psm-fixture" --name "$SEG" --hold 600 >"$T/fixture.log" 2>&1 &
track_pid $!
for i in $(seq 1 100); do [ -e "/dev/shm/$SEG" ] && break; sleep 0.05; done
start_exporter "$T/exp.log"
PROM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

# --- formats ---------------------------------------------------------------------------
pcurl client -D "$T/text.h" -o "$T/text.txt" "$(url /metrics)"
check "default is text 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/text.h"
check "text holds the fixture's counter" grep -qx 'fixture_events_processed_total 1234' "$T/text.txt"
check "text holds the exporter's own metrics" grep -q '^portsyncd_exporter_scrapes_total{code="200"}' "$T/text.txt"
check "text holds process metrics" grep -q '^process_resident_memory_bytes [0-9]' "$T/text.txt"
check "writer liveness exported: up" grep -qx 'portsyncd_exporter_writer_up 1' "$T/text.txt"
check "text has no # EOF" bash -c "! grep -q '^# EOF' '$T/text.txt'"
lint=$(promtool check metrics <"$T/text.txt" 2>&1) && rc=0 || rc=$?
check "promtool check metrics: exit 0 (rc=$rc)" test "$rc" -eq 0
check "promtool check metrics: no warnings ('$lint')" test -z "$lint"

# process_* are sampled at most every 100 ms, and then again: three more open
# connections show in process_open_fds a moment later.
fds() { pcurl client "$(url /metrics)" | awk '$1 == "process_open_fds" {print $2}'; }
fd0=$(fds)
exec 7<>/dev/tcp/::1/"$EXP_PORT" 8<>/dev/tcp/::1/"$EXP_PORT" 9<>/dev/tcp/::1/"$EXP_PORT"
sleep 0.3
fd1=$(fds)
exec 7>&- 8>&- 9>&-
check "process_open_fds is sampled again after 100 ms ($fd0 -> $fd1 with 3 more connections)" \
    test "${fd1:-0}" -ge $((${fd0:-0} + 3))

pcurl client -H "Accept: $PROM_ACCEPT" -D "$T/om.h" -o "$T/om.txt" "$(url /metrics)"
check "Prometheus 2.x Accept header gets OpenMetrics 1.0.0" \
    grep -qi '^content-type: application/openmetrics-text; version=1.0.0; charset=utf-8' "$T/om.h"
check "OpenMetrics ends with # EOF" test "$(tail -n 1 "$T/om.txt")" = "# EOF"
check "python3-prometheus-client's OpenMetrics parser accepts it" $PY "$(dirname "$0")/pyclient.py" openmetrics "$T/om.txt"
ct() { pcurl client -H "Accept: $1" -o /dev/null -w '%{content_type}' "$(url /metrics)"; }
check "Accept: application/openmetrics-text -> OpenMetrics" bash -c "[[ '$(ct 'application/openmetrics-text')' == application/openmetrics-text* ]]"
check "Accept: text/plain -> text" bash -c "[[ '$(ct 'text/plain')' == text/plain* ]]"
check "Accept: */* -> text" bash -c "[[ '$(ct '*/*')' == text/plain* ]]"
check "Accept preferring text over OpenMetrics -> text" \
    bash -c "[[ '$(ct 'application/openmetrics-text;q=0.4,text/plain;q=0.9')' == text/plain* ]]"
check "Accept: OpenMetrics with q=0 -> text" bash -c "[[ '$(ct 'application/openmetrics-text;q=0')' == text/plain* ]]"

# --- gzip ---------------------------------------------------------------------------------
pcurl client -H 'Accept-Encoding: gzip' -D "$T/gz.h" -o "$T/gz.bin" "$(url /metrics)"
check "Accept-Encoding: gzip -> Content-Encoding: gzip" grep -qi '^content-encoding: gzip' "$T/gz.h"
check "Vary names Accept-Encoding" grep -qi '^vary:.*accept-encoding' "$T/gz.h"
gunzip -c "$T/gz.bin" >"$T/gz.txt"
# Both bodies are fresh snapshots: compare everything but the exporter's own moving parts.
strip() { grep -v -e '^portsyncd_exporter_' -e '^process_' "$1"; }
check "gzip body decompresses to the same exposition" diff <(strip "$T/text.txt") <(strip "$T/gz.txt")
out=$(pcurl client --compressed -o /dev/null -w '%{http_code} %{size_download}' "$(url /metrics)")
check "curl --compressed: 200 and a compressed size ($out)" test "${out%% *}" = 200
pcurl client -H 'Accept-Encoding: gzip;q=0, identity' -D "$T/nogz.h" -o /dev/null "$(url /metrics)"
check "gzip;q=0 -> identity" bash -c "! grep -qi '^content-encoding' '$T/nogz.h'"

# --- HEAD, errors, other endpoints ----------------------------------------------------------
pcurl client -I "$(url /metrics)" >"$T/head.h"
len=$(sed -n 's/^[Cc]ontent-[Ll]ength: *\([0-9]*\).*/\1/p' "$T/head.h" | tr -d '\r')
check "HEAD /metrics: 200 with a Content-Length ($len) and no body" \
    bash -c "grep -q '^HTTP/[0-9.]* 200' '$T/head.h' && [ '${len:-0}' -gt 1000 ]"
out=$(pcurl client --http1.1 -I -o /dev/null -w '%{http_code} %{size_download}' "$(url /metrics)")
check "HEAD over HTTP/1.1: 200, 0 bytes ($out)" test "$out" = "200 0"
for p in / /-/healthy /-/ready; do
    check "GET $p: 200" test "$(http_code client "$p")" = 200
done
check "landing page links the telemetry path" bash -c "pcurl() { curl -sS --cacert '$PKI/ca.crt' --cert '$PKI/client.crt' --key '$PKI/client.key' \"\$@\"; }; pcurl '$(url /)' | grep -q 'href=\"/metrics\"'"
check "GET /nope: 404" test "$(http_code client /nope)" = 404
check "GET /metrics/extra: 404" test "$(http_code client /metrics/extra)" = 404
check "GET /metrics?x=1 (query string): 200" test "$(http_code client '/metrics?x=1')" = 200
check "POST /metrics: 405" test "$(http_code client /metrics -X POST -d x=1)" = 405
check "DELETE /: 405" test "$(http_code client / -X DELETE)" = 405
pcurl client -X PUT -D "$T/405.h" -o /dev/null "$(url /metrics)"
check "405 names the allowed methods" grep -qi '^allow: GET, HEAD' "$T/405.h"
big=$(head -c 9000 /dev/zero | tr '\0' a)
check "9000-byte header: 431" test "$(http_code client /metrics -H "X-Big: $big")" = 431
for v in 1.1 2; do
    pcurl client "--http$v" -D "$T/srv.h" -o /dev/null "$(url /metrics)"
    check "HTTP/$v: no Server header (no version disclosed)" bash -c "! grep -qi '^server:' '$T/srv.h'"
done
pcurl client -o "$T/after.txt" "$(url /metrics)"
check "scrapes counted by code" grep -Eq '^portsyncd_exporter_scrapes_total\{code="200"\} [1-9]' "$T/after.txt"
check "404s counted" grep -Eq '^portsyncd_exporter_http_requests_total\{code="404"\} [1-9]' "$T/after.txt"
check "scrape duration histogram present" grep -Eq '^portsyncd_exporter_scrape_duration_seconds_count [1-9]' "$T/after.txt"
check "in-flight gauge counts this request" grep -qx 'portsyncd_exporter_requests_in_flight 1' "$T/after.txt"
stop_exporter

# --- 503 beyond --web.max-requests ---------------------------------------------------------------
# --web.max-requests counts responses being sent to clients that take them.
# Three HTTP/2 streams taking a 10 MB body at a steady 1.6 MB/s each are busy
# for seconds; with a limit of 2 the next scrape is refused with 503. Streams
# whose client takes nothing (flow-control window 0) are parked and do not
# count: with two of them open, scrapes still get 200.
"$BIN/psm-loadgen" --name "$SEG-big" --series 40000 --threads 0 --seconds 120 >"$T/big.log" 2>&1 &
track_pid $!
on_exit "rm -f /dev/shm/$SEG-big"
for i in $(seq 1 200); do [ -e "/dev/shm/$SEG-big" ] && break; sleep 0.05; done
sleep 0.5
start_exporter "$T/exp503.log" --web.max-requests=2 --shm-name="$SEG-big"
H2C="$PY $(dirname "$0")/h2client.py"
$H2C paced "$EXP_PORT" "$PKI" 3 20 >"$T/paced.log" 2>&1 &
paced=$!
for i in $(seq 1 200); do grep -qs 'receiving' "$T/paced.log" && break; sleep 0.05; done
pcurl client -D "$T/503.h" -o "$T/503.txt" "$(url /metrics)" || true
check "scrape beyond 2 busy responses: 503 ($(head -n 1 "$T/503.h" | tr -d '\r'))" grep -q '^HTTP/[0-9.]* 503' "$T/503.h"
check "503 says why" grep -q 'too many concurrent requests' "$T/503.txt"
check "503 carries Retry-After" grep -qi '^retry-after: 1' "$T/503.h"
check "/-/healthy still answers while scrapes are at the limit" test "$(http_code client /-/healthy)" = 200
kill "$paced" 2>/dev/null || true
wait "$paced" 2>/dev/null || true
cat "$T/paced.log"
sleep 0.5
check "after the paced client left: 200" test "$(http_code client /metrics)" = 200
$H2C stall "$EXP_PORT" "$PKI" 1 2 6 >"$T/parked.log" 2>&1 &
parked=$!
for i in $(seq 1 200); do grep -qs 'window 0' "$T/parked.log" && break; sleep 0.05; done
sleep 0.5
pcurl client -o "$T/parked.txt" "$(url /metrics)"
check "two parked streams (window 0) do not count: 200" grep -q '^portsyncd_exporter_scrape_responses{state="parked"} 2$' "$T/parked.txt"
check "... and are not busy" grep -q '^portsyncd_exporter_scrape_responses{state="busy"} 0$' "$T/parked.txt"
kill "$parked" 2>/dev/null || true
wait "$parked" 2>/dev/null || true
pcurl client -o "$T/after503.txt" "$(url /metrics)"
check "503s counted" grep -Eq '^portsyncd_exporter_scrapes_total\{code="503"\} [1-9]' "$T/after503.txt"
stop_exporter

# A writer with a process_* family of its own: the exporter leaves out its own
# process_* families, so the exposition never holds two families of one name.
"$BIN/psm-fixture" --name "$SEG-proc" --process --hold 60 >"$T/fixture2.log" 2>&1 &
FP=$!
for i in $(seq 1 100); do grep -q ready "$T/fixture2.log" 2>/dev/null && break; sleep 0.05; done
start_exporter "$T/exp-proc.log" --shm-name="$SEG-proc"
pcurl client "$(url /metrics)" >"$T/proc.txt"
check "a segment with process_*: one TYPE line for process_cpu_seconds_total" \
    test "$(grep -c '^# TYPE process_cpu_seconds_total ' "$T/proc.txt")" = 1
check "... and it is the segment's value" grep -qx 'process_cpu_seconds_total 3.5' "$T/proc.txt"
lint=$(promtool check metrics <"$T/proc.txt" 2>&1) && rc=0 || rc=$?
check "... and promtool accepts it (rc=$rc) '$lint'" test "$rc" -eq 0
stop_exporter
kill "$FP" 2>/dev/null; wait "$FP" 2>/dev/null || true
rm -f "/dev/shm/$SEG-proc"
finish
