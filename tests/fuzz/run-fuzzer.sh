#!/usr/bin/env bash
# tests/fuzz/run-fuzzer.sh FUZZER SECONDS CORPUS_DIR
# Seeds the corpus with real segments written by psm-fixture (so the fuzzer starts
# past the magic and layout hash), then fuzzes for SECONDS. Exit 0 = no finding.
set -euo pipefail
fuzzer=$1 seconds=$2 corpus=$3
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
echo "fuzzing $(basename "$fuzzer") for ${seconds}s, corpus $corpus ($(ls "$corpus" | wc -l) files)"
"$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    echo "fuzzer found a problem; reproducer(s) in $artifacts:"
    ls -l "$artifacts"
    exit 1
fi
rm -rf "$artifacts"
echo "fuzz: no crash in ${seconds}s"
