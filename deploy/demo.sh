#!/usr/bin/env bash
# deploy/demo.sh - the demo, on a fresh Debian 12 machine, as root.
#
# Today portsyncd's metrics segment is built (libpsmetrics, portsyncd-shmdump,
# psm-loadgen); the sync core and the TLS exporter are not yet. So this demo is
# honest about it: it builds what exists, runs psm-loadgen as the segment's
# writer, and shows the segment as an operator would inspect it. When the sync
# core and exporter land, this script grows into the full demo (namespace with
# veth ports, Redis, portsyncd, mTLS scrape).
#
# Usage: deploy/demo.sh [--once]    (--once: no live view, exit 0 if all checks passed)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
once=0
[ "${1:-}" = "--once" ] && once=1
seg=portsyncd-demo-$$
loadgen_pid=
cleanup() {
    [ -n "$loadgen_pid" ] && kill "$loadgen_pid" 2>/dev/null && wait "$loadgen_pid" 2>/dev/null
    rm -f "/dev/shm/$seg"
}
trap cleanup EXIT INT TERM

need=(build-essential cmake pkg-config libcriterion-dev)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "demo: installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "demo: building in $top/build"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j "$(nproc)" --target portsyncd-shmdump psm-loadgen >/dev/null
bin=$top/build/bin

echo "demo: starting psm-loadgen as the segment's writer (300 series, 1 thread)"
"$bin/psm-loadgen" --name "$seg" --series 300 --threads 1 --seconds 0 &
loadgen_pid=$!
for _ in $(seq 50); do [ -e "/dev/shm/$seg" ] && break; sleep 0.1; done
sleep 1

echo
echo "demo: portsyncd-shmdump --check"
"$bin/portsyncd-shmdump" --name "$seg" --check
echo
echo "demo: portsyncd-shmdump (table, first 25 lines)"
"$bin/portsyncd-shmdump" --name "$seg" | head -n 25
echo
echo "demo: portsyncd-shmdump --format prometheus (one histogram)"
"$bin/portsyncd-shmdump" --name "$seg" --format prometheus |
    grep -m 12 -E 'latency_seconds(_bucket|_sum|_count)?\{series="s000200"' || true

if [ "$once" -eq 1 ]; then
    echo
    echo "demo: OK (segment checked, rendered); sync core and exporter are not built yet"
    exit 0
fi
echo
echo "demo: live view, Ctrl-C to stop"
"$bin/portsyncd-shmdump" --name "$seg" --watch 1 || true
