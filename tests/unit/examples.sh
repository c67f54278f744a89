#!/usr/bin/env bash
# tests/unit/examples.sh - shm/examples: the reader prints what the writer wrote,
# and a second writer run continues the counters (it re-attaches).
#   examples.sh EXAMPLES_DIR
set -euo pipefail
EX=$1
SEG=psm-test-examples-$$
trap 'rm -f "/dev/shm/$SEG"' EXIT
rm -f "/dev/shm/$SEG"
fail=0
expect() { # expect OUTPUT LINE: LINE appears in OUTPUT as a whole line
    if grep -qxF -- "$2" <<<"$1"; then
        echo "ok   - $2"
    else
        echo "FAIL - missing line: $2"
        fail=1
    fi
}

"$EX/psm-example-writer" "$SEG"
out=$("$EX/psm-example-reader" "$SEG")
expect "$out" 'example_flaps_total port=Ethernet0 3'
expect "$out" 'example_latency_seconds count=2 sum=0.0504'
expect "$out" 'example_flaps_total{port="Ethernet0"} 3'
expect "$out" 'example_latency_seconds_bucket{le="0.001"} 1'
expect "$out" 'example_latency_seconds_bucket{le="0.1"} 2'
expect "$out" 'example_latency_seconds_bucket{le="+Inf"} 2'
expect "$out" 'example_latency_seconds_count 2'

"$EX/psm-example-writer" "$SEG"
out=$("$EX/psm-example-reader" "$SEG")
expect "$out" 'example_flaps_total port=Ethernet0 6'
expect "$out" 'example_latency_seconds count=4 sum=0.1008'

if [ "$fail" -ne 0 ]; then
    echo "reader output was:"
    echo "$out"
fi
exit "$fail"
