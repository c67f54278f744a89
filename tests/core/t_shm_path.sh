#!/usr/bin/env bash
# The metrics segment at a path (--shm-name /dir/file), as a sidecar in another
# container needs it in a directory the two share: in a directory on a disk
# filesystem and in a tmpfs directory, portsyncd writes it (0640), shmdump
# reads and checks it, a restart re-attaches to it (counters go on); the
# benchmark writer and the test fixture take paths too.
source "$(dirname "$0")/lib.sh"
DISK=$TMP/disk
TMPFS=$TMP/tmpfs
mkdir -p "$DISK" "$TMPFS"
mount -t tmpfs -o size=16m tmpfs "$TMPFS" || { echo "cannot mount a tmpfs"; exit 1; }
trap 'umount "$TMPFS" 2>/dev/null; cleanup' EXIT
start_redis
make_ns
seed_ports 0
start_consumer
# at PATH NAME: a metric's value in the segment at PATH
at() { "$BIN/portsyncd-shmdump" --name "$1" --format prometheus 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }
# portsyncd_at PATH ARGS...: portsyncd writing its segment at PATH
portsyncd_at() {
    local path=$1
    shift
    ip netns exec "$NS" "$BIN/portsyncd" --redis-socket "$SOCK" --shm-name "$path" --log-level DEBUG \
        --log-output STDERR "$@" >>"$TMP/portsyncd.log" 2>&1 &
    PCD_PID=$!
    wait_for 10 bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name '$path' --format prometheus 2>/dev/null | awk '\$1 == \"portsyncd_port_config_done\" {print \$2}')\" = 1 ]"
}

fs=$(stat -f -c %T "$DISK")
check "the disk directory is not tmpfs ($fs)" [ "$fs" != tmpfs ]
expect_eq "the tmpfs directory is tmpfs" tmpfs "$(stat -f -c %T "$TMPFS")"

check "portsyncd writes its segment on disk" portsyncd_at "$DISK/portsyncd-metrics"
expect_eq "mode 0640, a regular file owned by root" "regular file 640 root" "$(stat -c '%F %a %U' "$DISK/portsyncd-metrics")"
check "shmdump --check passes" "$BIN/portsyncd-shmdump" --name "$DISK/portsyncd-metrics" --check
add_port 0
check "Ethernet0 in STATE_DB" wait_for 10 state_matches_kernel 0
ip -n "$NS" link set p0 down
check "a flap is counted in the file" wait_for 5 bash -c "[ \"\$('$BIN/portsyncd-shmdump' --name '$DISK/portsyncd-metrics' --format prometheus | awk '\$1 == \"portsyncd_port_flaps_total{port=\\\"Ethernet0\\\"}\" {print \$2}')\" = 1 ]"
events=$(at "$DISK/portsyncd-metrics" portsyncd_events_processed_total)
check "shmdump's table names the metrics" bash -c "'$BIN/portsyncd-shmdump' --name '$DISK/portsyncd-metrics' | grep -q portsyncd_port_flaps_total"
check "SIGTERM exits 0" stop_portsyncd
check "a restart re-attaches to the file" portsyncd_at "$DISK/portsyncd-metrics" --old-interfaces off
expect_eq "its counters go on: the flap before the restart is still counted" 1 \
    "$(at "$DISK/portsyncd-metrics" 'portsyncd_port_flaps_total{port="Ethernet0"}')"
check "and events too" [ "$(at "$DISK/portsyncd-metrics" portsyncd_events_processed_total)" -ge "$events" ]
check "SIGTERM exits 0" stop_portsyncd

check "portsyncd writes its segment in a tmpfs directory" portsyncd_at "$TMPFS/portsyncd-metrics" --old-interfaces off
check "shmdump --check passes there" "$BIN/portsyncd-shmdump" --name "$TMPFS/portsyncd-metrics" --check
expect_eq "Ethernet0 oper status read from it" 0 "$(at "$TMPFS/portsyncd-metrics" 'portsyncd_port_oper_status{port="Ethernet0"}')"
check "SIGTERM exits 0" stop_portsyncd

check "psm-loadgen writes at a path" "$BIN/psm-loadgen" --name "$DISK/loadgen" --series 30 --seconds 0.2
check "shmdump checks it" "$BIN/portsyncd-shmdump" --name "$DISK/loadgen" --check
check "psm-fixture writes at a path" "$BIN/psm-fixture" --name "$TMPFS/fixture" --close
check "shmdump reads it" bash -c "'$BIN/portsyncd-shmdump' --name '$TMPFS/fixture' --format prometheus | grep -q fixture_events_processed_total"
rc=0
"$BIN/psm-loadgen" --name "$DISK/no/such/dir/x" --series 3 --seconds 0.1 2>"$TMP/err" || rc=$?
check "a path in a missing directory is one clear line" bash -c "[ $rc -ne 0 ] && grep -q 'cannot create a file in $DISK/no/such/dir' '$TMP/err'"
finish
