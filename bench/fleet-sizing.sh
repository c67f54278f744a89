#!/usr/bin/env bash
# bench/fleet-sizing.sh BINDIR [PORTS...] - the figures behind deploy/README.md's
# fleet sizing, measured on the real thing: for each port count (default 32 and
# 512) a network namespace with that many veth ports, CONFIG_DB seeded with them,
# redis-server, portsyncd and portsyncd-exporter; then
#   - the samples one scrape returns (series per switch), by family;
#   - a Prometheus agent scraping it every INTERVAL seconds (default 15) for
#     SECONDS_RUN seconds (default 120) and remote-writing to a receiver: the bytes
#     the agent sent per sample. At real scrape intervals each remote_write batch
#     carries one sample per series, so every sample pays for its labels; at 1 s
#     intervals a batch holds several and the figure comes out lower.
# Prints one line per port count and the per-switch arithmetic.
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BINDIR [PORTS...]}" && pwd)
shift
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(32 512)
SECONDS_RUN=${SECONDS_RUN:-120}
INTERVAL=${INTERVAL:-15}
DEPLOY=$(cd "$(dirname "$0")/../deploy" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d /tmp/fleet-sizing.XXXXXX)
NS=fleet-sizing-$$
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    ip netns del "$NS" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])'; }
wait_for() { local i; for i in $(seq 1 "$(($1 * 10))"); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
stop_all() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
    ip netns del "$NS" 2>/dev/null
}

"$DEPLOY/gen-certs.sh" --dir "$T/pki" --host localhost --client agent --days 2 >/dev/null
for n in "${COUNTS[@]}"; do
    d=$T/$n
    mkdir -p "$d"
    sock=$d/redis.sock
    redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$d" --save '' >"$d/redis.log" 2>&1 &
    PIDS+=($!)
    wait_for 5 redis-cli -s "$sock" ping
    for ((i = 0; i < n; i++)); do
        echo "HSET PORT|Ethernet$((i * 4)) lanes $((i * 4)) speed 100000 mtu 9100 admin_status up index $i"
    done | redis-cli -s "$sock" -n 4 >/dev/null
    "$BIN/pcd-consumer" --socket "$sock" >"$d/consumer.log" 2>&1 &
    PIDS+=($!)
    ip netns add "$NS"
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$sock" --shm-name "$d/metrics" --log-output STDERR >"$d/portsyncd.log" 2>&1 &
    PIDS+=($!)
    wait_for 10 grep -q 'ready: initial link dump applied' "$d/portsyncd.log"
    for ((i = 0; i < n; i++)); do
        echo "link add Ethernet$((i * 4)) type veth peer name p$((i * 4))"
        echo "link set p$((i * 4)) up"
        echo "link set Ethernet$((i * 4)) up"
    done | ip -n "$NS" -batch -
    # every port up and flapped once, so each per-port series exists
    wait_for 60 grep -q PortInitDone "$d/portsyncd.log" || echo "($n ports: PortInitDone not reached)"
    port=$(free_port)
    PORTSYNCD_METRICS_CERT=$T/pki/server.crt PORTSYNCD_METRICS_KEY=$T/pki/server.key \
        PORTSYNCD_METRICS_CA=$T/pki/ca.crt "$BIN/portsyncd-exporter" --shm-name="$d/metrics" \
        --web.listen-address="[::1]:$port" >"$d/exporter.log" 2>&1 &
    PIDS+=($!)
    wait_for 10 grep -q 'listening on' "$d/exporter.log"
    curl -sS --tlsv1.3 --cacert "$T/pki/ca.crt" --cert "$T/pki/agent.crt" --key "$T/pki/agent.key" \
        "https://[::1]:$port/metrics" >"$d/scrape.txt"
    samples=$(grep -vc '^#' "$d/scrape.txt")
    own=$(grep -Ec '^(portsyncd_exporter_|process_)' "$d/scrape.txt")
    body=$(wc -c <"$d/scrape.txt")
    byfam=$(grep -v '^#' "$d/scrape.txt" | sed 's/[{ ].*//; s/_\(bucket\|sum\|count\)$//' | sort | uniq -c | sort -rn |
        awk '{ printf "%s %s, ", $2, $1 }' | head -c 400)

    # remote_write cost: an agent writing to a receiver
    recv=$(free_port)
    ag=$(free_port)
    printf 'global: {scrape_interval: 1s}\n' >"$d/central.yml"
    prometheus --config.file="$d/central.yml" --storage.tsdb.path="$d/central" --web.enable-remote-write-receiver \
        --web.listen-address="127.0.0.1:$recv" --log.level=error >"$d/central.log" 2>&1 &
    PIDS+=($!)
    cat >"$d/agent.yml" <<YML
global: {scrape_interval: ${INTERVAL}s, scrape_timeout: 10s}
scrape_configs:
  - job_name: portsyncd
    scheme: https
    tls_config: {ca_file: $T/pki/ca.crt, cert_file: $T/pki/agent.crt, key_file: $T/pki/agent.key, server_name: localhost}
    static_configs: [{targets: ['[::1]:$port'], labels: {switch: sw1, role: leaf}}]
remote_write:
  - url: http://127.0.0.1:$recv/api/v1/write
    queue_config: {capacity: 10000, max_samples_per_send: 2000, max_shards: 10}
YML
    prometheus --enable-feature=agent --config.file="$d/agent.yml" --storage.agent.path="$d/agent" \
        --web.listen-address="127.0.0.1:$ag" --log.level=error >"$d/agent.log" 2>&1 &
    PIDS+=($!)
    wait_for 30 curl -sf "http://127.0.0.1:$ag/-/ready"
    am() { curl -s "http://127.0.0.1:$ag/metrics" | awk -v k="$1" '{ m = $1; sub(/\{.*/, "", m) } m == k { s += $2 } END { print s + 0 }'; }
    sleep $((INTERVAL + 5)) # past the first scrape and batch
    s0=$(am prometheus_remote_storage_samples_total) b0=$(am prometheus_remote_storage_bytes_total)
    sleep "$SECONDS_RUN"
    s1=$(am prometheus_remote_storage_samples_total) b1=$(am prometheus_remote_storage_bytes_total)
    $PY - "$n" "$samples" "$((s1 - s0))" "$((b1 - b0))" "$SECONDS_RUN" "$byfam" "$INTERVAL" "$own" "$body" <<'PYEOF'
import sys
n, samples, ds, db, secs, byfam = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
series = samples + 5  # + up, scrape_duration_seconds, scrape_samples_scraped, scrape_samples_post_metric_relabeling, scrape_series_added
bps = db / ds if ds else float("nan")
print("%d ports: %d samples per scrape (+5 Prometheus adds per target = %d series per switch); "
      "remote_write %.2f bytes/sample (%d samples, %d bytes in %d s, scraped every %s s)"
      % (n, samples, series, bps, ds, db, secs, sys.argv[7]))
print("    %s of them the exporter's own (portsyncd_exporter_*, process_*); body %s bytes uncompressed"
      % (sys.argv[8], sys.argv[9]))
print("    by family: %s" % byfam.rstrip(", "))
for interval in (15, 30, 60):
    per = series / interval
    print("    at %2d s: %.2f samples/s per switch; x1000 switches: %.0f samples/s, %.0f kB/s remote_write"
          % (interval, per, per * 1000, per * 1000 * bps / 1000))
PYEOF
    stop_all
done
