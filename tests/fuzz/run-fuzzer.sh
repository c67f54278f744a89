#!/usr/bin/env bash
# tests/fuzz/run-fuzzer.sh FUZZER SECONDS CORPUS_DIR [MIN_EDGES]
# Seeds the corpus with real inputs (segments written by psm-fixture, the kernel's
# own link dumps, ...), so the fuzzer starts past magic numbers and checksums,
# then fuzzes for SECONDS and prints one summary line:
#   fuzz_NAME: S s, E execs (R/s), edges: I from the seeds -> D, corpus C, findings F
# Exit 0 only with no finding and at least MIN_EDGES edges reached: a fuzzer whose
# code under test is not coverage-instrumented sees a handful of edges and fails.
set -euo pipefail
fuzzer=$1 seconds=$2 corpus=$3 floor=${4:-0}
bindir=$(dirname "$fuzzer")/../bin
mkdir -p "$corpus"
seed=psm-fuzz-seed-$$
trap 'rm -f /dev/shm/$seed' EXIT
case $(basename "$fuzzer") in
*netlink*)
    # Real link dumps of this machine, raw from the kernel, as seeds.
    /usr/bin/python3 - "$corpus" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
s.bind((0, 0))
req = struct.pack("=LHHLL", 32, 18, 0x301, 1, 0) + struct.pack("=BxHiII", 0, 0, 0, 0, 0)
s.send(req)
for i in range(8):
    data = s.recv(65536)
    open(os.path.join(sys.argv[1], f"seed-dump-{i}"), "wb").write(data)
    if struct.unpack_from("=H", data, 4)[0] == 3:  # NLMSG_DONE
        break
PY
    ;;
esac
if [ -x "$bindir/psm-fixture" ] && [[ $(basename "$fuzzer") == *reader* ]]; then
    "$bindir/psm-fixture" --name "$seed" --small --close
    cp "/dev/shm/$seed" "$corpus/seed-fixture"
    "$bindir/psm-fixture" --name "$seed" --small
    cp "/dev/shm/$seed" "$corpus/seed-fixture-dead-writer"
fi
artifacts=$(mktemp -d)
out=$(mktemp)
name=$(basename "$fuzzer")
echo "fuzzing $name for ${seconds}s, corpus $corpus ($(ls "$corpus" | wc -l) files)"
set +e
"$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" >"$out" 2>&1
rc=$?
set -e
tail -n 25 "$out"
inited=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
last=$(grep -oE '(DONE|NEW|REDUCE|pulse|INITED) +cov: [0-9]+' "$out" | tail -n 1 | grep -oE '[0-9]+$')
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out")
findings=$(find "$artifacts" -type f | wc -l)
[ "$rc" -ne 0 ] && [ "$findings" -eq 0 ] && findings=1
echo "$name: ${seconds} s, ${execs:-?} execs (${rate:-?}/s), edges: ${inited:-?} from the seeds -> ${last:-?}, corpus $(ls "$corpus" | wc -l), findings $findings"
rm -f "$out"
if [ "$rc" -ne 0 ]; then
    echo "$name found a problem; reproducer(s) in $artifacts:"
    ls -l "$artifacts"
    exit 1
fi
rm -rf "$artifacts"
if [ "${last:-0}" -lt "$floor" ]; then
    echo "$name: reached ${last:-0} edges, below the floor of $floor: is the code under test built with -fsanitize=fuzzer-no-link?"
    exit 1
fi
echo "fuzz: no finding in ${seconds}s, ${last} edges (floor $floor)"
