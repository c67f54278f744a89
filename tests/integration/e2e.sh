#!/usr/bin/env bash
# End to end: namespace + Redis + portsyncd + portsyncd-exporter + a real
# Prometheus scraping over mutual TLS with the shipped scrape config and alert
# rules (intervals shortened for the test). After port flaps Prometheus' HTTP API
# has the flap counts, the event counter and the latency histogram; stopping
# portsyncd fires PortsyncdWriterDown, evaluated by Prometheus.
source "$(dirname "$0")/../core/lib.sh" "$1"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
EXP_PORT=$(free_port)
PROM_PORT=$(free_port)

"$DEPLOY/gen-certs.sh" --dir "$TMP/certs" --host localhost --client prometheus --days 2 >/dev/null
start_redis
make_ns
seed_ports 0 4 8 12
start_consumer
start_portsyncd_ready
for n in 0 4 8 12; do add_port "$n"; done
check "PortInitDone" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"

PORTSYNCD_METRICS_CERT=$TMP/certs/server.crt PORTSYNCD_METRICS_KEY=$TMP/certs/server.key \
    PORTSYNCD_METRICS_CA=$TMP/certs/ca.crt "$BIN/portsyncd-exporter" \
    --web.listen-address="[::1]:$EXP_PORT" --shm-name="$SEG" --writer.heartbeat-max-age=2s \
    >"$TMP/exporter.log" 2>&1 &
PIDS+=($!)

# The shipped Prometheus files, with this test's paths, port and short intervals.
mkdir -p "$TMP/prom"
cp "$TMP/certs/ca.crt" "$TMP/certs/prometheus.crt" "$TMP/certs/prometheus.key" "$TMP/prom/"
sed -e 's/for: [0-9]*m/for: 2s/' "$DEPLOY/prometheus/portsyncd-alerts.yml" >"$TMP/prom/portsyncd-alerts.yml"
sed -e "s|/etc/prometheus/portsyncd/|$TMP/prom/|; s|/etc/prometheus/portsyncd-alerts.yml|$TMP/prom/portsyncd-alerts.yml|" \
    -e "s|\[::1\]:9090|[::1]:$EXP_PORT|; s/scrape_interval: 15s/scrape_interval: 1s/g; s/evaluation_interval: 15s/evaluation_interval: 1s/; s/scrape_timeout: 10s/scrape_timeout: 900ms/" \
    "$DEPLOY/prometheus/prometheus.yml" >"$TMP/prom/prometheus.yml"
check "the test's Prometheus config is valid" bash -c "promtool check config '$TMP/prom/prometheus.yml' >/dev/null"
prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
api="http://127.0.0.1:$PROM_PORT/api/v1"
# value QUERY: the first sample's value, "" if none
value() {
    curl -sS --get "$api/query" --data-urlencode "query=$1" 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
value_is() { [ "$(value "$1")" = "$2" ]; }
check "Prometheus scrapes the exporter over mTLS: up == 1" wait_for 60 value_is 'up{job="portsyncd"}' 1
# The real writer's families and the exporter's own never clash.
curl -sS --tlsv1.3 --cacert "$TMP/certs/ca.crt" --cert "$TMP/certs/prometheus.crt" --key "$TMP/certs/prometheus.key" \
    --connect-to "localhost:$EXP_PORT:[::1]:$EXP_PORT" "https://localhost:$EXP_PORT/metrics" >"$TMP/scrape.txt"
lint=$(promtool check metrics <"$TMP/scrape.txt" 2>&1) && rc=0 || rc=$?
check "the scrape of portsyncd's segment passes promtool (rc=$rc) '${lint}'" test "$rc" -eq 0 -a -z "$lint"

for i in 1 2 3 4 5; do
    ip -n "$NS" link set p8 down
    wait_for 5 bash -c "! ip -n $NS -o link show Ethernet8 | grep -q LOWER_UP"
    ip -n "$NS" link set p8 up
    wait_for 5 bash -c "ip -n $NS -o link show Ethernet8 | grep -q LOWER_UP"
done
want_events=$(metric portsyncd_events_processed_total)
check "port_flaps_total{port=Ethernet8} == 5 in Prometheus" wait_for 20 value_is 'portsyncd_port_flaps_total{port="Ethernet8"}' 5
check "port_flaps_total{port=Ethernet4} == 0 in Prometheus" value_is 'portsyncd_port_flaps_total{port="Ethernet4"}' 0
check "events_processed_total in Prometheus equals the segment ($want_events)" wait_for 10 value_is portsyncd_events_processed_total "$want_events"
count=$(metric portsyncd_event_latency_seconds_count)
check "latency histogram _count in Prometheus equals the segment ($count)" wait_for 10 value_is portsyncd_event_latency_seconds_count "$count"
check "the +Inf bucket equals _count" wait_for 10 value_is 'portsyncd_event_latency_seconds_bucket{le="+Inf"}' "$count"
p99=$(value 'histogram_quantile(0.99, sum by (le) (portsyncd_event_latency_seconds_bucket))')
echo "     (p99 from Prometheus' histogram_quantile: ${p99} s)"
check "histogram_quantile gives a latency within the buckets" bash -c "/usr/bin/python3 -c 'import sys; v=float(\"$p99\"); sys.exit(0 if 0 < v <= 1 else 1)'"
check "no alert fires while all is well" bash -c "[ \"\$(curl -s $api/alerts | /usr/bin/python3 -c 'import json,sys; print(len([a for a in json.load(sys.stdin)[\"data\"][\"alerts\"] if a[\"state\"] == \"firing\" and a[\"labels\"][\"alertname\"] in (\"PortsyncdWriterDown\", \"PortsyncdRedisDisconnected\")]))')\" = 0 ]"

stop_portsyncd
firing() {
    curl -s "$api/alerts" | /usr/bin/python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin)["data"]["alerts"] if x["labels"]["alertname"] == sys.argv[1] and x["state"] == "firing"]
sys.exit(0 if a else 1)' "$1"
}
check "stopping portsyncd fires PortsyncdWriterDown in Prometheus" wait_for 60 firing PortsyncdWriterDown
check "the exporter still answers: up == 1" value_is 'up{job="portsyncd"}' 1
finish
