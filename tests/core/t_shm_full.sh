#!/usr/bin/env bash
# /dev/shm too small for the segment (a 16 KiB tmpfs in portsyncd's own mount
# namespace, inside the test's network namespace): ports are synced, one ERROR
# line names the cause and the remedy, the periodic retries fail quietly, and
# portsyncd never exits because of it.
source "$(dirname "$0")/lib.sh"
start_redis
make_ns
seed_ports 0 4
start_consumer
ip netns exec "$NS" unshare --mount sh -c \
    'mount -t tmpfs -o size=16k tmpfs /dev/shm && exec "$0" "$@"' \
    "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$SEG" --log-level DEBUG \
    --log-output STDERR >>"$TMP/portsyncd.log" 2>&1 &
PCD_PID=$!
check "portsyncd becomes ready" wait_for 10 grep -q 'ready: initial link dump applied' "$TMP/portsyncd.log"
add_port 0
add_port 4
check "both ports in STATE_DB" wait_for 10 state_matches_kernel 0 4
ip -n "$NS" link set p4 down
check "STATE_DB follows a change" wait_for 5 state_matches_kernel 0 4
check "the ERROR line names the cause" grep -q 'ERROR: metrics segment .*cannot reserve .* bytes in /dev/shm: No space left on device' "$TMP/portsyncd.log"
check "and the remedy" grep -q 'free space in the segment.s filesystem' "$TMP/portsyncd.log"
check "the retry (every 5 s) was made and failed quietly" wait_for 15 grep -q 'DEBUG: metrics segment .*: still private: .*No space left' "$TMP/portsyncd.log"
expect_eq "exactly one ERROR line" 1 "$(grep -c ' ERROR: ' "$TMP/portsyncd.log")"
check "portsyncd keeps running" kill -0 "$PCD_PID"
ip -n "$NS" link set p4 up
check "and syncing" wait_for 5 state_matches_kernel 0 4
check "exits 0 on SIGTERM" stop_portsyncd
finish
