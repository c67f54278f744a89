#!/usr/bin/env bash
# A real Prometheus (Debian's package) scrapes the exporter over TLS 1.3 with a
# client certificate: the target is up and a series the writer holds is
# queryable through Prometheus' HTTP API.
source "$(dirname "$0")/lib.sh"

make_certs
"$BIN/psm-fixture" --name "$SEG" --hold 600 >"$T/fixture.log" 2>&1 &
track_pid $!
for i in $(seq 1 100); do [ -e "/dev/shm/$SEG" ] && break; sleep 0.05; done
start_exporter "$T/exp.log"

PPORT=$(free_port)
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: portsyncd
    scheme: https
    tls_config:
      ca_file: $PKI/ca.crt
      cert_file: $PKI/client.crt
      key_file: $PKI/client.key
      server_name: localhost
      min_version: TLS13
    static_configs:
      - targets: ['[::1]:$EXP_PORT']
YML
promtool check config "$T/prometheus.yml" >"$T/promtool.log" 2>&1 ||
    { not_ok "promtool rejects the test's config: $(cat "$T/promtool.log")"; finish; }
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$T/prometheus.log" 2>&1 &
track_pid $!
API="http://127.0.0.1:$PPORT"
for i in $(seq 1 100); do curl -sf "$API/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
check "Prometheus is ready on 127.0.0.1:$PPORT" curl -sf "$API/-/ready" -o /dev/null

# query EXPR: the first result's value, or empty
query() {
    curl -sf "$API/api/v1/query" --data-urlencode "query=$1" |
        $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
up=""
for i in $(seq 1 60); do
    up=$(query 'up{job="portsyncd"}' || true)
    [ "$up" = 1 ] && break
    sleep 0.5
done
check "up{job=\"portsyncd\"} == 1 (got '$up')" test "$up" = 1
v=$(query 'fixture_events_processed_total{job="portsyncd"}' || true)
check "fixture_events_processed_total is 1234 in Prometheus (got '$v')" test "$v" = 1234
v=$(query 'fixture_port_flaps_total{port="Ethernet8"}' || true)
check "a labelled series is queryable: fixture_port_flaps_total{port=\"Ethernet8\"} == 6 (got '$v')" test "$v" = 6
v=$(query 'portsyncd_exporter_writer_up' || true)
check "portsyncd_exporter_writer_up == 1 in Prometheus (got '$v')" test "$v" = 1
v=$(query 'portsyncd_exporter_tls_handshake_failures_total{reason="no_client_cert"}' || true)
check "handshake failure counters are scraped (got '$v')" test "$v" = 0
curl -sf "$API/api/v1/targets" >"$T/targets.json"
check "the target reports no scrape error" \
    $PY -c 'import json,sys; t=json.load(open(sys.argv[1]))["data"]["activeTargets"][0]; sys.exit(0 if t["health"]=="up" and not t["lastError"] else 1)' "$T/targets.json"
n=$(pcurl client "$(url /metrics)" | sed -n 's/^portsyncd_exporter_tls_handshakes_total //p')
check "Prometheus reuses its connection (handshakes so far: $n, scrapes >= 3)" test "$n" -le 4
finish
