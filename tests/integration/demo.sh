#!/usr/bin/env bash
# The README's first command, non-interactive: deploy/demo.sh --once exits 0, and a
# second run works (the first cleaned up after itself).
source "$(dirname "$0")/lib.sh"
DEMO=$(cd "$(dirname "$0")/../../deploy" && pwd)/demo.sh
port=$(free_port)
out=$TMP/demo.out
rc=0; DEMO_BUILD=$(cd "$BIN/.." && pwd) DEMO_PORT=$port "$DEMO" --once >"$out" 2>&1 || rc=$?
check "demo.sh --once exits 0 (rc=$rc)" test $rc -eq 0 || tail -n 30 "$out"
check "it says OK" grep -q '^demo: OK' "$out"
check "it cleaned up" bash -c "! ip netns list | grep -q portsyncd-demo- && ! ls /dev/shm | grep -q portsyncd-demo-"
rc=0; DEMO_BUILD=$(cd "$BIN/.." && pwd) DEMO_PORT=$port "$DEMO" --once >"$out" 2>&1 || rc=$?
check "a second run works too (rc=$rc)" test $rc -eq 0
finish
