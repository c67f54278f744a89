#!/usr/bin/env bash
# Native histograms end to end: portsyncd handles link flaps (veths in a
# namespace, a real redis-server) and two real Prometheus 2.42 scrape its
# exporter over mutual TLS at once, one with --enable-feature=native-histograms
# (it negotiates protobuf) and one without (it negotiates OpenMetrics).
# - native: histogram_count of portsyncd_event_latency_seconds equals the
#   classic _count the other Prometheus (and the segment) holds; its
#   histogram_quantile(0.5) and (0.99) are within 10 % of the exact median and
#   p99 of the latencies portsyncd observed (its DEBUG lines
#   "observe <histogram> <seconds>"), and below 1 ms (the p99 only when the
#   exact p99 is below 0.9 ms: a loaded machine's scheduler can push it over);
# - without the flag: exactly the seed's classic buckets, no native histogram.
# The exact quantile is the order statistic of rank ceil(q * n), the value
# Prometheus's rank q * count falls on; it lies in the bucket Prometheus
# interpolates in, which at schema 3 is 9.05 % wide: within 10 % by design.
source "$(dirname "$0")/../core/lib.sh" "$1"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
EXP_PORT=$(free_port)

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
    --web.listen-address="[::1]:$EXP_PORT" --shm-name="$SEG" >"$TMP/exporter.log" 2>&1 &
PIDS+=($!)

# start_prometheus NAME ARGS...: a Prometheus scraping the exporter every second
# over mutual TLS; sets API_<NAME>
start_prometheus() {
    local name=$1 port
    shift
    port=$(free_port)
    mkdir -p "$TMP/$name"
    cat >"$TMP/$name/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - $DEPLOY/prometheus/portsyncd-alerts.yml
scrape_configs:
  - job_name: portsyncd
    scheme: https
    tls_config:
      ca_file: $TMP/certs/ca.crt
      cert_file: $TMP/certs/prometheus.crt
      key_file: $TMP/certs/prometheus.key
      server_name: localhost
      min_version: TLS13
    static_configs:
      - targets: ['[::1]:$EXP_PORT']
YML
    prometheus --config.file="$TMP/$name/prometheus.yml" --storage.tsdb.path="$TMP/$name/data" \
        --web.listen-address="127.0.0.1:$port" "$@" >"$TMP/prometheus-$name.log" 2>&1 &
    PIDS+=($!)
    printf -v "API_$name" '%s' "http://127.0.0.1:$port/api/v1"
}
# The native one with the flags deploy/prometheus/prometheus.default ships.
ARGS=$(. "$DEPLOY/prometheus/prometheus.default" && echo "$ARGS")
check "deploy/prometheus/prometheus.default enables native histograms ($ARGS)" \
    grep -q -- '--enable-feature=native-histograms' <<<"$ARGS"
# shellcheck disable=SC2086
start_prometheus native $ARGS
start_prometheus classic

# value API QUERY: the first result's value, "" if none
value() {
    curl -sS --get "$1/query" --data-urlencode "query=$2" 2>/dev/null |
        $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
value_is() { [ "$(value "$1" "$2")" = "$3" ]; }
check "the native-histogram Prometheus scrapes over mTLS: up == 1" wait_for 60 value_is "$API_native" up 1
check "the classic Prometheus scrapes over mTLS: up == 1" wait_for 60 value_is "$API_classic" up 1

# Flaps, paced so that the latencies are portsyncd's, not a backlog's.
for i in $(seq 1 40); do
    for n in 0 4 8 12; do ip -n "$NS" link set "p$n" down; done
    sleep 0.03
    for n in 0 4 8 12; do ip -n "$NS" link set "p$n" up; done
    sleep 0.03
done
check "STATE_DB settles on the kernel's state" wait_for 10 state_matches_kernel 0 4 8 12
count=$(metric portsyncd_event_latency_seconds_count)
sleep 1
count2=$(metric portsyncd_event_latency_seconds_count)
expect_eq "no more events once settled: the segment's _count" "$count" "$count2"
logged=$(grep -c ' DEBUG: observe portsyncd_event_latency_seconds ' "$TMP/portsyncd.log" || true)
expect_eq "portsyncd logged one line per observation" "$count" "$logged"
check "enough observations for a p99 ($count >= 200)" test "$count" -ge 200

check "classic Prometheus: portsyncd_event_latency_seconds_count == $count" \
    wait_for 20 value_is "$API_classic" portsyncd_event_latency_seconds_count "$count"
check "native Prometheus: histogram_count(portsyncd_event_latency_seconds) == classic _count ($count)" \
    wait_for 20 value_is "$API_native" 'histogram_count(portsyncd_event_latency_seconds)' "$count"

p50=$(value "$API_native" 'histogram_quantile(0.5, portsyncd_event_latency_seconds)')
p99=$(value "$API_native" 'histogram_quantile(0.99, portsyncd_event_latency_seconds)')
c99=$(value "$API_classic" 'histogram_quantile(0.99, portsyncd_event_latency_seconds_bucket)')
echo "     native histogram_quantile: p50 ${p50} s, p99 ${p99} s; classic buckets' p99: ${c99} s"
check "native quantiles are within 10 % of the exact ones, and below 1 ms (p99: if the exact one is)" \
    $PY - "$TMP/portsyncd.log" "$p50" "$p99" <<'PY'
import math, re, sys
line = re.compile(r" DEBUG: observe portsyncd_event_latency_seconds ([0-9]+\.[0-9]{9})$")
vals = sorted(float(m.group(1)) for m in map(line.search, open(sys.argv[1])) if m)
ok = True
for q, got in ((0.5, float(sys.argv[2])), (0.99, float(sys.argv[3]))):
    exact = vals[math.ceil(q * len(vals)) - 1]
    err = abs(got - exact) / exact
    print(f"     q={q}: Prometheus {got * 1e3:.4f} ms, exact {exact * 1e3:.4f} ms "
          f"({len(vals)} observations), error {err * 100:.2f} %")
    ok &= err <= 0.10
    # Below 1 ms, which the seed's buckets cannot say. The p99 only when what
    # portsyncd measured is well below it: on a busy 2-core machine a few
    # events wait for a CPU for ~1.3 ms (the scheduler's slice), which puts the
    # true p99 above 1 ms; then Prometheus must say that, within 10 %.
    if got >= 1e-3 and (q == 0.5 or exact < 0.9e-3):
        print(f"     q={q}: {got * 1e3:.4f} ms is not below 1 ms")
        ok = False
    elif got >= 1e-3:
        print(f"     q={q}: the exact value is {exact * 1e3:.4f} ms on this machine now: "
              "below 1 ms not asserted")
sys.exit(0 if ok else 1)
PY

# The classic Prometheus got exactly the seed's buckets, and no native histogram.
les() {
    curl -sS --get "$API_classic/series" --data-urlencode "match[]=$1" |
        $PY -c 'import json,sys; print(" ".join(sorted((s["le"] for s in json.load(sys.stdin)["data"]), key=float)))'
}
expect_eq "classic Prometheus: event latency buckets are the seed's" "0.001 0.005 0.01 0.05 0.1 0.5 1 +Inf" \
    "$(les portsyncd_event_latency_seconds_bucket)"
expect_eq "classic Prometheus: Redis latency buckets are the seed's" "0.001 0.005 0.01 0.05 0.1 +Inf" \
    "$(les portsyncd_redis_latency_seconds_bucket)"
expect_eq "classic Prometheus: no native histogram" "" \
    "$(value "$API_classic" 'histogram_count(portsyncd_event_latency_seconds)')"
# Prometheus 2.42 keeps only the native part of a native family (no
# scrape_classic_histograms before 2.45); the exporter's own histogram is classic.
expect_eq "native Prometheus: no classic _count for a native family" "" \
    "$(value "$API_native" portsyncd_event_latency_seconds_count)"
check "native Prometheus: the exporter's own classic histogram is still classic" \
    bash -c "[ -n \"\$(curl -sS --get '$API_native/query' --data-urlencode 'query=portsyncd_exporter_scrape_duration_seconds_count' | $PY -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else \"\")')\" ]"
# The shipped recording rules: from the native histogram where there is one
# (p50 ~0.1 ms), else from the classic buckets (a p50 in le=0.001 interpolates
# to at least 0.5 ms).
below() { $PY -c 'import sys; v = float(sys.argv[1] or "nan"); sys.exit(0 if v < float(sys.argv[2]) else 1)' "$@"; }
p50_below() { below "$(value "$1" 'instance:portsyncd_event_latency_seconds:p50_rate5m')" "$2"; }
check "native Prometheus: the recorded p50 comes from the native histogram (< 0.5 ms)" \
    wait_for 20 p50_below "$API_native" 0.0005
check "classic Prometheus: the recorded p50 falls back to the classic buckets (>= 0.5 ms)" \
    bash -c "v=\$(curl -sS --get '$API_classic/query' --data-urlencode 'query=instance:portsyncd_event_latency_seconds:p50_rate5m' | $PY -c 'import json,sys; r=json.load(sys.stdin)[\"data\"][\"result\"]; print(r[0][\"value\"][1] if r else \"\")'); $PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.0005 else 1)' \"\$v\""
# Every latency query of the shipped dashboard answers in the Prometheus it is
# meant for: the native panels in the native one, the others in both.
check "the dashboard's latency queries answer (native panels: native Prometheus only)" \
    $PY - "$DEPLOY/grafana/portsyncd-dashboard.json" "$API_native" "$API_classic" <<'PY'
import json, sys, urllib.parse, urllib.request
d, native, classic = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def answers(api, expr):
    expr = expr.replace("$__rate_interval", "1m").replace('=~"$instance"', '=~".*"')
    url = api + "/query?" + urllib.parse.urlencode({"query": expr})
    return bool(json.load(urllib.request.urlopen(url))["data"]["result"])
ok = True
for p in d["panels"]:
    if "latency" not in p["title"].lower():
        continue
    for t in p["targets"]:
        want = [native] if "native histogram)" in p["title"] else \
               [classic] if "classic buckets)" in p["title"] else [native, classic]
        for api in want:
            if not answers(api, t["expr"]):
                print(f"     panel {p['title']!r}: no answer from {api} to {t['expr']}")
                ok = False
sys.exit(0 if ok else 1)
PY

for name in native classic; do
    api=API_$name
    curl -sS "${!api}/targets" >"$TMP/targets-$name.json"
    check "$name Prometheus: the target reports no scrape error" \
        $PY -c 'import json,sys; t=json.load(open(sys.argv[1]))["data"]["activeTargets"][0]; print("     lastError:", repr(t["lastError"])); sys.exit(0 if t["health"]=="up" and not t["lastError"] else 1)' "$TMP/targets-$name.json"
done
finish
