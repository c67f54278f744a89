#!/usr/bin/env bash
# deploy/fleet/ end to end: two switches (each its own network namespace with
# veth ports, redis-server, the stand-in consumer, portsyncd writing its segment
# into a directory, and portsyncd-exporter with that switch's server certificate
# from one CA, made by gen-certs.sh server), listed in a file_sd file and scraped
# over mutual TLS by Prometheus 2.42 in agent mode with the shipped agent
# configuration, which remote-writes (mutual TLS too) to a second Prometheus
# started with --web.enable-remote-write-receiver and the shipped fleet rules.
# The receiver answers portsyncd_port_flaps_total for both switches with their
# switch and role labels and the flap counts each had, and the fleet recording
# rules evaluate there. A switch whose certificate does not name the address it
# is scraped at is refused.
source "$(dirname "$0")/../core/lib.sh" "$1"
DEPLOY=$(cd "$(dirname "$0")/../../deploy" && pwd)
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])'; }
NSES=()
AGENT_PID=
# The agent first, while the receiver still takes what it flushes (otherwise it
# retries for its one-minute flush deadline after the test).
stop_agent() {
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null
    wait_for 10 bash -c "! kill -0 $AGENT_PID" || kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
}
trap 'stop_agent; for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null; done; cleanup' EXIT

P=$TMP/pki
"$DEPLOY/gen-certs.sh" --dir "$P" --host localhost --client agent --days 2 >/dev/null
for n in leaf-01 spine-01 central; do
    "$DEPLOY/gen-certs.sh" --dir "$P" --days 2 server "$n.test" ::1 >/dev/null
done

# start_switch NAME PORTS...: Redis, namespace, consumer, portsyncd and exporter of one
# switch; sets EXP_PORT_<NAME> and leaves SOCK/NS naming this switch's.
start_switch() {
    local name=$1 var=${1//-/_} port
    shift
    mkdir -p "$TMP/$name/seg"
    SOCK=$TMP/$name/redis.sock
    NS=pcd-fleet-$name-$$
    NSES+=("$NS")
    start_redis
    PIDS+=("$REDIS_PID")
    make_ns
    seed_ports "$@"
    start_consumer
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$TMP/$name/seg/metrics" --log-output STDERR \
        >"$TMP/portsyncd-$name.log" 2>&1 &
    PIDS+=($!)
    wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd-$name.log" ||
        { echo "portsyncd of $name did not become ready"; return 1; }
    for n in "$@"; do add_port "$n"; done
    port=$(free_port)
    PORTSYNCD_METRICS_CERT=$P/$name.test/server.crt PORTSYNCD_METRICS_KEY=$P/$name.test/server.key \
        PORTSYNCD_METRICS_CA=$P/$name.test/ca.crt "$BIN/portsyncd-exporter" \
        --shm-name="$TMP/$name/seg/metrics" --web.listen-address="[::1]:$port" >"$TMP/exporter-$name.log" 2>&1 &
    PIDS+=($!)
    wait_for 10 grep -q 'listening on' "$TMP/exporter-$name.log" || { echo "exporter of $name did not start"; return 1; }
    printf -v "EXP_PORT_$var" %s "$port"
}
start_switch leaf-01 0 4
check "leaf-01: PortInitDone" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
LEAF_NS=$NS
start_switch spine-01 0 4 8
check "spine-01: PortInitDone" wait_for 10 bash -c "[ \"\$(redis-cli -s $SOCK -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]"
SPINE_NS=$NS
NS= # the trap deletes both from NSES

subject() {
    openssl s_client -connect "[::1]:$1" -CAfile "$P/ca.crt" -cert "$P/agent.crt" -key "$P/agent.key" </dev/null 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null
}
# shellcheck disable=SC2154 # EXP_PORT_* are set by start_switch (printf -v)
check "each exporter presents its own switch's certificate" \
    bash -c "[[ '$(subject "$EXP_PORT_leaf_01")' == *leaf-01.test* && '$(subject "$EXP_PORT_spine_01")' == *spine-01.test* ]]"

# The central store: the shipped central configuration and fleet rules, 1 s
# evaluations, remote-write receiver behind mutual TLS.
C=$TMP/central
mkdir -p "$C"
cp "$DEPLOY/fleet/portsyncd-fleet-rules.yml" "$C/"
sed -e "s|/etc/prometheus/portsyncd-fleet-rules.yml|$C/portsyncd-fleet-rules.yml|; s/evaluation_interval: 30s/evaluation_interval: 1s/" \
    "$DEPLOY/fleet/prometheus-central.yml" >"$C/prometheus.yml"
cat >"$C/web.yml" <<YML
tls_server_config:
  cert_file: $P/central.test/server.crt
  key_file: $P/central.test/server.key
  client_ca_file: $P/ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
YML
check "the central configuration is valid" bash -c "promtool check config '$C/prometheus.yml' >/dev/null"
RECV=$(free_port)
prometheus --config.file="$C/prometheus.yml" --storage.tsdb.path="$C/data" --web.enable-remote-write-receiver \
    --web.listen-address="[::1]:$RECV" --web.config.file="$C/web.yml" --log.level=warn >"$TMP/central.log" 2>&1 &
PIDS+=($!)

# The agent: the shipped agent configuration with this test's paths, 1 s scrapes,
# the receiver as remote_write URL; the file_sd file lists the two switches.
A=$TMP/agent
mkdir -p "$A/switches"
cp "$P/ca.crt" "$A/"
cp "$P/agent.crt" "$P/agent.key" "$A/"
cat >"$A/switches/fleet.yml" <<YML
- targets: ['[::1]:$EXP_PORT_leaf_01']
  labels: {switch: leaf-01, role: leaf}
- targets: ['[::1]:$EXP_PORT_spine_01']
  labels: {switch: spine-01, role: spine}
YML
sed -e "s|/etc/prometheus/portsyncd/|$A/|; s|/etc/prometheus/remote-write/|$A/|" \
    -e "s|url: https://metrics.example.net/api/v1/push|url: https://[::1]:$RECV/api/v1/write|" \
    -e "s/scrape_interval: 30s/scrape_interval: 1s/; s/scrape_timeout: 10s/scrape_timeout: 900ms/" \
    "$DEPLOY/fleet/prometheus-agent.yml" >"$A/prometheus-agent.yml"
check "the agent configuration is valid" bash -c "promtool check config '$A/prometheus-agent.yml' >/dev/null"
AG=$(free_port)
prometheus --enable-feature=agent --config.file="$A/prometheus-agent.yml" --storage.agent.path="$A/data" \
    --web.listen-address="127.0.0.1:$AG" --log.level=warn >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!

rcurl() { curl -sS --max-time 10 --tlsv1.3 --cacert "$P/ca.crt" --cert "$P/agent.crt" --key "$P/agent.key" "$@"; }
# query EXPR: the receiver's answer as "name=value,... VALUE" lines, sorted ("-": no labels)
query() {
    rcurl --get "https://[::1]:$RECV/api/v1/query" --data-urlencode "query=$1" 2>/dev/null | $PY -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print("\n".join(sorted((",".join("%s=%s" % kv for kv in sorted(x["metric"].items()) if kv[0] != "__name__") or "-")
                       + " " + x["value"][1] for x in r)))'
}
query_is() { [ "$(query "$1")" = "$2" ]; }
positive() { # positive EXPR LABELS...: every LABELS line is there with a value > 0
    local out
    out=$(query "$1")
    shift
    for l in "$@"; do
        awk -v l="$l" '$1 == l && $2 + 0 > 0 { f = 1 } END { exit !f }' <<<"$out" || return 1
    done
}
check "the receiver is ready" wait_for 30 rcurl -f "https://[::1]:$RECV/-/ready" -o /dev/null
check "the agent is ready" wait_for 30 curl -sf "http://127.0.0.1:$AG/-/ready" -o /dev/null
check "the agent runs in agent mode" bash -c "curl -s http://127.0.0.1:$AG/api/v1/status/flags | grep -q '\"enable-feature\":\"agent\"'"
check "... and answers no queries" bash -c "! curl -s 'http://127.0.0.1:$AG/api/v1/query?query=up' | grep -q '\"status\":\"success\"'"
targets() {
    curl -s "http://127.0.0.1:$AG/api/v1/targets" | $PY -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
print(" ".join(sorted("%s:%s:%s" % (x["labels"]["switch"], x["labels"]["role"], x["health"]) for x in t)))
sys.exit(0 if len(t) == 2 and all(x["health"] == "up" and not x["lastError"] for x in t) else 1)'
}
check "the agent scrapes both switches from file_sd over mutual TLS: $(wait_for 30 targets; targets)" targets

both='instance=leaf-01,job=portsyncd,port=Ethernet0,role=leaf,switch=leaf-01'
check "the receiver has portsyncd_port_flaps_total of both switches (remote_write)" \
    wait_for 60 bash -c "[ \"\$(curl -sS --tlsv1.3 --cacert $P/ca.crt --cert $P/agent.crt --key $P/agent.key --get 'https://[::1]:$RECV/api/v1/query' --data-urlencode 'query=count(portsyncd_port_flaps_total) by (switch)' | grep -o '\"switch\"' | wc -l)\" = 2 ]"

# Flaps: Ethernet0 of leaf-01 three times, Ethernet4 of spine-01 once.
flap() { # flap NS N
    ip -n "$1" link set "p$2" down
    wait_for 5 bash -c "! ip -n $1 -o link show Ethernet$2 | grep -q LOWER_UP"
    ip -n "$1" link set "p$2" up
    wait_for 5 bash -c "ip -n $1 -o link show Ethernet$2 | grep -q LOWER_UP"
}
for _ in 1 2 3; do flap "$LEAF_NS" 0; done
flap "$SPINE_NS" 4
check "receiver: flaps per switch, with switch and role labels" \
    wait_for 30 query_is 'sum by (switch, role) (portsyncd_port_flaps_total)' "role=leaf,switch=leaf-01 3
role=spine,switch=spine-01 1"
echo "     $(query 'portsyncd_port_flaps_total{port="Ethernet0"}' | tr '\n' ';')"
check "receiver: leaf-01 Ethernet0 flapped 3 times, spine-01 Ethernet4 once" \
    query_is 'portsyncd_port_flaps_total{port=~"Ethernet0|Ethernet4", switch=~"leaf-01|spine-01"} > 0' \
    "agent=agent-1,$both 3
agent=agent-1,instance=spine-01,job=portsyncd,port=Ethernet4,role=spine,switch=spine-01 1"
check "receiver: both exporters up, instance is the switch's name" \
    query_is 'up{job="portsyncd"}' "agent=agent-1,instance=leaf-01,job=portsyncd,role=leaf,switch=leaf-01 1
agent=agent-1,instance=spine-01,job=portsyncd,role=spine,switch=spine-01 1"

check "rule switch:portsyncd_port_flaps:rate5m > 0 for both switches" \
    wait_for 30 positive 'switch:portsyncd_port_flaps:rate5m' 'role=leaf,switch=leaf-01' 'role=spine,switch=spine-01'
check "rule role:portsyncd_port_flaps:rate5m > 0 for both roles" \
    wait_for 30 positive 'role:portsyncd_port_flaps:rate5m' 'role=leaf' 'role=spine'
check "rule fleet:portsyncd_port_flaps:rate5m > 0" wait_for 30 positive 'fleet:portsyncd_port_flaps:rate5m' -
check "rule role:portsyncd_switches_flapping:count5m: one switch per role" \
    wait_for 30 query_is 'role:portsyncd_switches_flapping:count5m' "role=leaf 1
role=spine 1"
check "rule role:portsyncd_exporters:count: one exporter per role" \
    wait_for 30 query_is 'role:portsyncd_exporters:count' "role=leaf 1
role=spine 1"
check "rule role:portsyncd_writers_down:sum: no writer down" \
    wait_for 30 query_is 'role:portsyncd_writers_down:sum' "role=leaf 0
role=spine 0"
p99=$(query 'fleet:portsyncd_event_latency_seconds:p99_5m' | awk '{ print $2 }')
echo "     (fleet-wide event latency p99 from the rule: ${p99:-none} s)"
check "rule fleet:portsyncd_event_latency_seconds:p99_5m is a latency within the buckets" \
    $PY -c 'import sys; v = float(sys.argv[1] or "nan"); sys.exit(0 if 0 < v <= 1 else 1)' "${p99:-}"

# What the remote_write costs, for the sizing in deploy/README.md.
# am NAME: the agent's own metric NAME, summed over its labels (remote_name, url)
am() { curl -s "http://127.0.0.1:$AG/metrics" | awk -v k="$1" '{ n = $1; sub(/\{.*/, "", n) } n == k { s += $2; f = 1 } END { if (f) print s }'; }
samples=$(am prometheus_remote_storage_samples_total)
bytes=$(am prometheus_remote_storage_bytes_total)
per=$(query 'scrape_samples_scraped' | tr '\n' ' ')
echo "     (agent sent ${samples:-?} samples in ${bytes:-?} bytes; samples per scrape: $per)"
check "the agent's remote_write sent samples and bytes" $PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 and float(sys.argv[2]) > 0 else 1)' "${samples:-0}" "${bytes:-0}"

# A switch whose certificate does not name the address it is scraped at: the
# agent refuses it (file_sd picks the new entry up by itself).
"$DEPLOY/gen-certs.sh" --dir "$P" --days 2 server other.test 2001:db8::99 >/dev/null
BADPORT=$(free_port)
PORTSYNCD_METRICS_CERT=$P/other.test/server.crt PORTSYNCD_METRICS_KEY=$P/other.test/server.key \
    PORTSYNCD_METRICS_CA=$P/other.test/ca.crt "$BIN/portsyncd-exporter" \
    --shm-name="$TMP/leaf-01/seg/metrics" --web.listen-address="[::1]:$BADPORT" >"$TMP/exporter-other.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q 'listening on' "$TMP/exporter-other.log"
printf -- "- targets: ['[::1]:%s']\n  labels: {switch: leaf-99, role: leaf}\n" "$BADPORT" >>"$A/switches/fleet.yml"
bad_target() {
    curl -s "http://127.0.0.1:$AG/api/v1/targets" | $PY -c '
import json, sys
t = [x for x in json.load(sys.stdin)["data"]["activeTargets"] if x["labels"].get("switch") == "leaf-99"]
print(t[0]["health"] + ": " + t[0]["lastError"] if t else "not listed")
sys.exit(0 if t and t[0]["health"] == "down" and "certificate" in t[0]["lastError"] else 1)'
}
wait_for 30 bad_target
check "a switch whose certificate lacks its address is refused by the agent: $(bad_target)" bad_target
finish
