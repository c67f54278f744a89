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
if [ -x "$bindir/psm-fixture" ]; then
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
