#!/usr/bin/env bash
# deploy/demo.sh - the whole product on one machine, as root on Debian 12:
#   a private redis-server, a network namespace with 8 veth ports Ethernet0..28,
#   CONFIG_DB seeded and a stand-in for orchagent consuming APPL_DB, portsyncd,
#   portsyncd-exporter with throwaway P-384 certificates; then a port flap, the
#   STATE_DB entries, portsyncd-shmdump, a mutual-TLS scrape with curl and a
#   scrape without a client certificate that is refused.
#
# Usage: deploy/demo.sh [--once]
#   --once   no live view: check everything, print OK and exit 0 (1 on any failure)
# Otherwise it keeps a live view until Ctrl-C. Either way it removes everything it
# created (processes, namespace, files), also when it fails halfway.
# Environment: DEMO_PORT (exporter port on [::1], default 19090), DEMO_BUILD (build dir).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
once=0
case ${1:-} in
--once) once=1 ;;
"") ;;
-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "demo.sh: unknown argument '$1' (use --once or nothing)" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it creates a network namespace)" >&2; exit 2; }

port=${DEMO_PORT:-19090}
build=${DEMO_BUILD:-$top/build}
tmp=$(mktemp -d /tmp/portsyncd-demo.XXXXXX)
ns=portsyncd-demo-$$
seg=portsyncd-demo-$$
sock=$tmp/redis.sock
pids=()
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp" "/dev/shm/$seg"
    echo "demo: cleaned up (processes, namespace $ns, $tmp, /dev/shm/$seg)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
wait_for() { # wait_for SECONDS COMMAND...
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}

say "1/8 packages"
need=(build-essential cmake pkg-config libmnl-dev libhiredis-dev libh2o-evloop-dev libssl-dev
    libyaml-dev zlib1g-dev redis-server curl openssl iproute2)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "all present"
fi

say "2/8 build ($build)"
# An existing build directory keeps its configuration (tests/run.sh's, say).
[ -f "$build/CMakeCache.txt" ] || cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target portsyncd portsyncd-exporter portsyncd-shmdump pcd-consumer >/dev/null
bin=$build/bin

say "3/8 throwaway P-384 certificates"
"$top/deploy/gen-certs.sh" --dir "$tmp/certs" --host localhost --client demo-client --days 2

say "4/8 redis-server on $sock, CONFIG_DB with 8 ports, the stand-in consumer"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$tmp" --save "" \
    --appendonly no >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_for 10 redis-cli -s "$sock" ping || fail "redis-server did not start ($tmp/redis.log)"
for i in 0 4 8 12 16 20 24 28; do
    redis-cli -s "$sock" -n 4 HSET "PORT|Ethernet$i" lanes "$((i * 8)),$((i * 8 + 1))" \
        speed 100000 alias "etp$((i / 4 + 1))" admin_status up mtu 9100 >/dev/null
done
"$bin/pcd-consumer" --socket "$sock" >"$tmp/consumer.log" 2>&1 &
pids+=($!)
wait_for 5 grep -q ready "$tmp/consumer.log" || fail "pcd-consumer did not start"

say "5/8 portsyncd in namespace $ns, then the 8 veth ports (as orchagent would create them)"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$bin/portsyncd" --redis-socket "$sock" --shm-name "$seg" \
    --log-level NOTICE --log-output STDERR >"$tmp/portsyncd.log" 2>&1 &
pids+=($!)
wait_for 10 grep -q 'ready: initial link dump applied' "$tmp/portsyncd.log" ||
    fail "portsyncd did not start: $(tail -n 3 "$tmp/portsyncd.log")"
for i in 0 4 8 12 16 20 24 28; do
    ip -n "$ns" link add "Ethernet$i" type veth peer name "peer$i"
    ip -n "$ns" link set "peer$i" up
    ip -n "$ns" link set "Ethernet$i" up
done
wait_for 10 bash -c "[ \"\$(redis-cli -s $sock -n 0 HGET PORT_TABLE:PortInitDone lanes)\" = 0 ]" ||
    fail "PortInitDone did not appear"
sed -n 's/.* NOTICE: //p' "$tmp/portsyncd.log" | head -n 8

say "6/8 portsyncd-exporter on https://[::1]:$port (TLS 1.3, mutual TLS, IPv6 only)"
PORTSYNCD_METRICS_CERT=$tmp/certs/server.crt PORTSYNCD_METRICS_KEY=$tmp/certs/server.key \
    PORTSYNCD_METRICS_CA=$tmp/certs/ca.crt "$bin/portsyncd-exporter" \
    --web.listen-address="[::1]:$port" --shm-name="$seg" >"$tmp/exporter.log" 2>&1 &
pids+=($!)
scrape() {
    curl -sS --fail --tlsv1.3 --cacert "$tmp/certs/ca.crt" --cert "$tmp/certs/demo-client.crt" \
        --key "$tmp/certs/demo-client.key" "https://localhost:$port$1" --connect-to "localhost:$port:[::1]:$port"
}
wait_for 10 scrape /-/ready || fail "exporter not ready: $(tail -n 3 "$tmp/exporter.log")"
echo "ready"

say "7/8 flap Ethernet8 three times (its peer goes down and up)"
for _ in 1 2 3; do
    ip -n "$ns" link set peer8 down
    wait_for 5 bash -c "[ \"\$(redis-cli -s $sock -n 6 HGET 'PORT_TABLE|Ethernet8' netdev_oper_status)\" = down ]" || fail "Ethernet8 down not seen"
    ip -n "$ns" link set peer8 up
    wait_for 5 bash -c "[ \"\$(redis-cli -s $sock -n 6 HGET 'PORT_TABLE|Ethernet8' netdev_oper_status)\" = up ]" || fail "Ethernet8 up not seen"
done
ip -n "$ns" link set peer12 down # leave one port down
wait_for 5 bash -c "[ \"\$(redis-cli -s $sock -n 6 HGET 'PORT_TABLE|Ethernet12' netdev_oper_status)\" = down ]" || fail "Ethernet12 down not seen"

state_table() {
    printf '%-12s %-6s %-19s %-13s %s\n' KEY state netdev_oper_status admin_status mtu
    for i in 0 4 8 12 16 20 24 28; do
        printf '%-12s %-6s %-19s %-13s %s\n' "Ethernet$i" $(redis-cli -s "$sock" -n 6 HMGET \
            "PORT_TABLE|Ethernet$i" state netdev_oper_status admin_status mtu)
    done
}

say "8/8 what an operator sees"
echo "-- STATE_DB PORT_TABLE (redis-cli -n 6 HGETALL 'PORT_TABLE|EthernetN')"
state_table
echo
echo "-- portsyncd-shmdump --name $seg (first lines)"
"$bin/portsyncd-shmdump" --name "$seg" | head -n 22
echo
echo "-- curl --tlsv1.3 --cert demo-client.crt https://[::1]:$port/metrics (selected lines)"
body=$(scrape /metrics) || fail "the mutual-TLS scrape failed"
grep -E '^portsyncd_(port_flaps_total|events_processed_total|health_status|redis_connected|port_init_done|exporter_writer_up)' <<<"$body"
echo
echo "-- the same scrape without a client certificate is refused:"
if curl -sS --tlsv1.3 --cacert "$tmp/certs/ca.crt" "https://localhost:$port/metrics" \
    --connect-to "localhost:$port:[::1]:$port" -o /dev/null 2>"$tmp/refused.txt"; then
    fail "a scrape without a client certificate succeeded"
fi
sed 's/^/   /' "$tmp/refused.txt"

# The checks --once relies on.
flaps=$(awk '$1 == "portsyncd_port_flaps_total{port=\"Ethernet8\"}" {print $2}' <<<"$body")
[ "$flaps" = 3 ] || fail "portsyncd_port_flaps_total{port=\"Ethernet8\"} is '$flaps', expected 3"
grep -qx 'portsyncd_exporter_writer_up 1' <<<"$body" || fail "the exporter does not see portsyncd alive"
[ "$(redis-cli -s "$sock" -n 6 HGET 'PORT_TABLE|Ethernet12' netdev_oper_status)" = down ] || fail "STATE_DB Ethernet12"

if [ "$once" -eq 1 ]; then
    echo
    echo "demo: OK (8 ports in STATE_DB, PortInitDone, 3 flaps counted, mTLS scrape served, scrape without a certificate refused)"
    exit 0
fi
say "live view (every 2 s; try: ip -n $ns link set peer4 down) - Ctrl-C to stop"
while :; do
    sleep 2
    clear 2>/dev/null || true
    date
    state_table
    echo
    scrape /metrics | grep -E '^portsyncd_(port_flaps_total|events_processed_total|queue_depth|health_status)' || echo "(scrape failed)"
done
